"""The one owner of a cross-tuning run folder's layout and of its models' names.

RUN/spec.json owns the folder; RUN/jobs/<job id>/ holds a job's job.json, status.json, adapter/
and eval/; RUN/base/<backbone>/ the untuned backbone's evaluation. `RunFolder.jobs()` and
`RunFolder.models()` list them as typed entries, so no other module spells a path or a name.
Light on purpose (no torch): the analysis and the report read run folders through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ValidationError

from crosstune.errors import CrosstuneError
from crosstune.experiment.sources import short_label
from crosstune.experiment.spec import ExperimentSpec, JobSpec, jobs
from crosstune.records import JobStatus
from crosstune.store import (
    ADAPTER,
    BASES,
    EVAL,
    JOB,
    JOBS,
    LABELS,
    SPEC,
    read_json,
    read_manifest,
    read_status,
    slug,
)
from crosstune.user_tables import read_csv

UNTUNED = "untuned"
"""The instruction label of a backbone evaluated as it is."""
FACTORS = ["backbone", "instruction", "seed", "learned"]
"""labels.csv's columns, in order."""


def _model_name(*parts: str) -> str:
    """A model's row name in scores.csv: backbone--untuned or backbone--dataset--sSEED."""
    return "--".join(slug(part) for part in parts)


def eval_model_name(name: str, adapter: str | None) -> str:
    """A single evaluation's model name in the analysis: NAME, or NAME+ADAPTER-FOLDER."""
    return name + (f"+{Path(adapter).name}" if adapter else "")


def _evaluated(folder: Path) -> bool:
    """Has this evaluation folder a finished evaluation? (Looked up live: evaluations finish
    while a RunFolder is in use.)"""
    return read_manifest(folder) is not None


@dataclass(frozen=True)
class RunJob:
    """One job of the spec: where it lives and how it ended (None while it has not)."""

    spec: JobSpec
    folder: Path
    status: JobStatus | None

    @property
    def done(self) -> bool:
        return self.status is not None and self.status.done

    @property
    def adapter(self) -> Path:
        return self.folder / ADAPTER

    @property
    def eval_folder(self) -> Path:
        return self.folder / EVAL

    @property
    def evaluated(self) -> bool:
        return _evaluated(self.eval_folder)


@dataclass(frozen=True)
class RunModel:
    """One model of the run as scores.csv and labels.csv name it: an untuned backbone (no job,
    no adapter, empty seed) or a finished job's finetune."""

    name: str
    backbone: str
    instruction: str
    seed: str
    eval_folder: Path
    learned: bool | None = None
    """Did the finetune pass the quality check? None for an untuned backbone."""
    job: RunJob | None = None
    """The finetune's job (None for an untuned backbone, or a model listed from labels.csv)."""

    @property
    def untuned(self) -> bool:
        return self.instruction == UNTUNED

    @property
    def adapter(self) -> Path | None:
        return self.job.adapter if self.job is not None else None

    @property
    def evaluated(self) -> bool:
        return _evaluated(self.eval_folder)

    def factors(self) -> dict[str, object]:
        """The model's labels.csv row (learned is NA for an untuned backbone)."""
        return {"backbone": self.backbone, "instruction": self.instruction, "seed": self.seed,
                "learned": pd.NA if self.learned is None else self.learned}


class _JobFactors(BaseModel):
    """What the report needs of a job.json: enough to match a labels.csv row."""

    backbone: str
    dataset: str
    seed: int | str


def is_run_folder(path: Path) -> bool:
    """A folder `crosstune run` made: the one test, wherever a path may be a run folder."""
    return path.is_dir() and (path / SPEC).exists()


def require_run_folder(path: Path, hint: str = "") -> RunFolder:
    """The run folder at `path`, or one line saying it is not one (`hint`: what to give instead)."""
    if not is_run_folder(path):
        raise CrosstuneError(f"{path} is not a crosstune run folder (no {SPEC}){hint}")
    return RunFolder(path)


class RunFolder:
    """A cross-tuning run folder. Job statuses are read once, at the first `jobs()`: make a new
    RunFolder after training to see the jobs it finished."""

    def __init__(self, path: Path, spec: ExperimentSpec | None = None) -> None:
        self.path = path
        self._spec = spec

    @cached_property
    def spec(self) -> ExperimentSpec | None:
        """The spec that owns the folder; None when spec.json is missing or no longer valid."""
        if self._spec is not None:
            return self._spec
        try:
            return ExperimentSpec.model_validate(read_json(self.path / SPEC))
        except (ValidationError, CrosstuneError, OSError):
            return None

    def valid_spec(self) -> ExperimentSpec:
        """The spec, for work that needs one (training, evaluating)."""
        if self.spec is None:
            raise CrosstuneError(f"{self.path / SPEC} is missing or not a valid spec; "
                                 "rerun 'crosstune run' with the experiment's TOML")
        return self.spec

    def job_folder(self, job: JobSpec) -> Path:
        return self.path / JOBS / job.job_id

    def base_folder(self, backbone: str) -> Path:
        """The untuned backbone's evaluation folder."""
        return self.path / BASES / slug(backbone)

    def read_job(self, job: JobSpec) -> RunJob:
        """One job, its status read now."""
        folder = self.job_folder(job)
        return RunJob(job, folder, read_status(folder))

    def jobs(self) -> list[RunJob]:
        """Every job of the spec, in grid order."""
        return self._jobs

    @cached_property
    def _jobs(self) -> list[RunJob]:
        return [self.read_job(job) for job in jobs(self.spec)] if self.spec is not None else []

    def untuned(self, backbone: str) -> RunModel:
        return RunModel(_model_name(backbone, UNTUNED), backbone, UNTUNED, "", self.base_folder(backbone))

    def finetune(self, job: RunJob) -> RunModel:
        learned = job.status.learned if job.status is not None else None
        spec = job.spec
        dataset = spec.source.label
        return RunModel(_model_name(spec.backbone, dataset, f"s{spec.seed}"), spec.backbone, dataset,
                        str(spec.seed), job.eval_folder, learned, job)

    def models(self) -> list[RunModel]:
        """Every backbone untuned, then every finished job's finetune, in grid order (the order of
        scores.csv), evaluated or not."""
        if self.spec is None:
            return []
        return ([self.untuned(b) for b in self.spec.backbones]
                + [self.finetune(job) for job in self.jobs() if job.done])

    def eval_folders(self) -> dict[str, Path]:
        """Model name -> its evaluation folder, for every finished evaluation; none when spec.json
        is not a valid spec (its scores are still analysed, without per-pair noise)."""
        return {m.name: m.eval_folder for m in self.models() if m.evaluated}

    def collected(self) -> list[RunModel]:
        """The models labels.csv lists, named and labelled as written there, each with its
        evaluation folder: base/ for an untuned backbone, else the job folder whose job.json has
        the same backbone, dataset and seed. Matching on factors, not names, finds the folders of
        runs written by any version, even when spec.json no longer validates."""
        labels = self.labels()
        if labels is None:
            return []
        found: dict[tuple[str, str, str], Path] = {}
        for job_file in sorted((self.path / JOBS).glob(f"*/{JOB}")):
            try:
                job = _JobFactors.model_validate(read_json(job_file))
            except ValidationError:
                continue
            key = (job.backbone, short_label(job.dataset), str(job.seed))  # labels show arms short
            found[key] = job_file.parent / EVAL
        models = []
        for name, row in labels.iterrows():
            key = (row.backbone, row.instruction, row.seed)
            folder = self.base_folder(row.backbone) if row.instruction == UNTUNED else found.get(key)
            if folder is not None:
                learned = {"True": True, "False": False}.get(row.learned)
                models.append(RunModel(str(name), *key, folder, learned))
        return models

    def labels(self) -> pd.DataFrame | None:
        """labels.csv as text (model -> factors), or None when the run has none with its factors."""

        path = self.path / LABELS
        if not path.is_file():
            return None
        labels = read_csv(path, "run labels", index_col=0, dtype=str, keep_default_na=False)
        return labels if set(FACTORS) <= set(labels.columns) else None
