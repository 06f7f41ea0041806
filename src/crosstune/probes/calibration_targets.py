"""What both probes (calibration, faithfulness) evaluate and where they write it.

A target is one model, or every model of a `crosstune run` folder: each backbone untuned, then
each finished adapter switched in on the same loaded backbone. File names of the probes' run
folders live here, so the writer and every reader spell them the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from crosstune.errors import CrosstuneError
from crosstune.models import ModelHandle, load_model
from crosstune.models.adapters import attach_adapter
from crosstune.provenance import provenance
from crosstune.store import (
    MANIFEST,
    REPORT,
    SPEC,
    Kind,
    claim,
    slug,
    staged,
    write_csv,
    write_json,
    write_parquet,
    write_text,
)

MODELS_CSV = "models.csv"
REPORT_HTML = REPORT
# calibration
ANSWERS_PARQUET = "answers.parquet"
METRICS_CSV = "metrics.csv"
DIFFERENCES_CSV = "differences.csv"
RELIABILITY_CSV = "reliability.csv"
SELECTIVE_CSV = "selective.csv"
# faithfulness
COTS_PARQUET = "cots.parquet"
READINGS_PARQUET = "readings.parquet"
CURVES_CSV = "curves.csv"
FILLER_CSV = "filler.csv"
FAITHFULNESS_CSV = "faithfulness.csv"
UNITS_PARQUET = "units.parquet"

Task = Callable[[int], None]
Tasks = Callable[[str, int], Task]
"""Start a progress task (description, total) and return its advance(k) function."""


@dataclass(frozen=True)
class Target:
    """One model to probe, with the factor labels of a cross-tuning run (empty otherwise)."""

    model: str
    backbone: str
    instruction: str = ""
    seed: str = ""
    learned: str = ""

    @property
    def untuned(self) -> bool:
        return self.instruction == "untuned"


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and (path / SPEC).exists()


def check_source(source: str, adapter: str | None, prompt_format: str = "auto") -> None:
    """Refuse, before any work, a prompt format that does not exist and options a run folder
    would ignore (its models carry their own adapters)."""
    if prompt_format not in ("auto", "chat", "plain"):
        raise CrosstuneError(f"--format must be auto, chat or plain, got {prompt_format!r}")
    if adapter is not None and is_run_folder(Path(source)):
        raise CrosstuneError(f"--adapter does not apply to run folder {source}: every finished adapter "
                             "of the run is probed; to probe one adapter, give its backbone as the model")


def default_out(source: str, probe: str, adapter: str | None = None) -> Path:
    """RUN/probes/PROBE for a run folder, else runs/probe-PROBE-MODEL."""
    path = Path(source)
    if is_run_folder(path):
        return path / "probes" / probe
    name = slug(path.name or source) + (f"-{slug(Path(adapter).name)}" if adapter else "")
    return Path("runs") / f"probe-{probe}-{name}"


def targets(source: str, adapter: str | None = None, prompt_format: str = "auto",
            device: str | None = None) -> Iterator[tuple[Target, ModelHandle]]:
    """Each model to probe, loaded; a run folder's backbones are loaded once each."""
    path = Path(source)
    if not is_run_folder(path):
        handle = load_model(source, adapter, prompt_format, device)  # type: ignore[arg-type]
        yield Target(slug(Path(source).name or source) + (f"+{slug(Path(adapter).name)}"
                                                          if adapter else ""), source), handle
        return
    yield from _run_targets(path, device)


def _run_targets(run_dir: Path, device: str | None) -> Iterator[tuple[Target, ModelHandle]]:
    from crosstune.lab.run_folder import RunFolder

    run = RunFolder(run_dir)
    models = run.models()
    for backbone in run.valid_spec().backbones:
        handle = load_model(backbone, device=device)
        for model in (m for m in models if m.backbone == backbone):
            if model.job is not None:
                handle = attach_adapter(handle, model.job.adapter, name=model.job.spec.job_id)
                yield Target(model.name, backbone, model.job.spec.dataset, model.seed,
                             str(model.learned)), handle
            else:
                yield Target(model.name, backbone, model.instruction), handle


def each_target(source: str, probe: Callable[[ModelHandle], dict[str, pd.DataFrame]],
                adapter: str | None = None, prompt_format: str = "auto", device: str | None = None,
                ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Run `probe` on every target; its tables concatenated with a `model` column, and a model table."""
    tables: dict[str, list[pd.DataFrame]] = {}
    rows = []
    started = time.perf_counter()
    for target, handle in targets(source, adapter, prompt_format, device):
        loaded = time.perf_counter()
        for name, frame in probe(handle).items():
            tables.setdefault(name, []).append(frame.assign(model=target.model))
        rows.append({**target.__dict__, "fingerprint": handle.fingerprint,
                     "prompt_format": handle.prompt_format, "load_s": round(loaded - started, 2),
                     "probe_s": round(time.perf_counter() - loaded, 2)})
        started = time.perf_counter()
    merged = {name: pd.concat(frames, ignore_index=True) for name, frames in tables.items()}
    return merged, pd.DataFrame(rows)


def tuned_pairs(models: pd.DataFrame) -> list[tuple[str, str]]:
    """(finetuned model, its untuned backbone) for every finetune of a run folder."""
    base = {r.backbone: r.model for r in models.itertuples() if r.instruction == "untuned"}
    return [(r.model, base[r.backbone]) for r in models.itertuples()
            if r.instruction not in ("", "untuned") and r.backbone in base]


def claim_probe_folder(folder: Path, kind: Kind) -> None:
    """Refuse, before any work, a folder holding anything but an earlier run of the same probe."""
    claim(folder, kind)


def write_probe_folder(folder: Path, kind: Kind, tables: dict[str, pd.DataFrame], html: str,
                       manifest: dict[str, Any]) -> None:
    """Tables (.csv or .parquet by name), the report and the manifest, written whole."""
    claim(folder, kind)
    with staged(folder) as staging:
        for name, frame in tables.items():
            (write_parquet if name.endswith(".parquet") else write_csv)(staging / name, frame)
        write_text(staging / REPORT_HTML, html)
        write_json(staging / MANIFEST, {"kind": kind, **manifest,
                                        "files": sorted([*tables, REPORT_HTML]),
                                        "provenance": provenance()})
