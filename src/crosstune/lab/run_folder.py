"""Where a cross-tuning run keeps each model's results, and what each model is called.

Light on purpose (no torch): the analysis reads run folders through it without loading the lab.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from crosstune.errors import CrosstuneError
from crosstune.lab.spec import ExperimentSpec, JobSpec, jobs
from crosstune.store import BASES, EVAL, JOBS, SPEC, read_json, read_manifest, slug


def model_name(job: JobSpec | None, backbone: str) -> str:
    """A model's row name in scores.csv: backbone--untuned or backbone--dataset--sSEED."""
    if job is None:
        return f"{slug(backbone)}--untuned"
    return f"{slug(job.backbone)}--{slug(job.source.label)}--s{job.seed}"


def job_folder(run_dir: Path, job: JobSpec) -> Path:
    return run_dir / JOBS / job.job_id


def base_folder(run_dir: Path, backbone: str) -> Path:
    """The untuned backbone's evaluation folder."""
    return run_dir / BASES / slug(backbone)


def eval_folders(run_dir: Path) -> dict[str, Path]:
    """Model name (as scores.csv names it) -> its evaluation folder, for every finished evaluation;
    none for a folder whose spec.json is not a valid spec (its scores are still analysed, without
    per-pair noise)."""
    try:
        spec = ExperimentSpec.model_validate(read_json(run_dir / SPEC))
    except (ValidationError, CrosstuneError):
        return {}
    folders = {model_name(None, b): base_folder(run_dir, b) for b in spec.backbones}
    folders |= {model_name(job, job.backbone): job_folder(run_dir, job) / EVAL for job in jobs(spec)}
    return {name: folder for name, folder in folders.items() if read_manifest(folder) is not None}
