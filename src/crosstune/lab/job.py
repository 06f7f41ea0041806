"""run_job(spec) -> folder: one pure, idempotent training job, written atomically."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from crosstune.errors import CrosstuneError
from crosstune.lab.datasets import load_examples, split
from crosstune.lab.run_folder import job_folder
from crosstune.lab.spec import JobSpec
from crosstune.lab.task_accuracy import accuracy_check
from crosstune.lab.train import (
    NanLossError,
    StepReport,
    build_lora_model,
    heldout_metrics,
    load_options,
    train_lora,
)
from crosstune.models import load_model
from crosstune.provenance import provenance
from crosstune.store import ADAPTER, JOB, STATUS, read_json, staged, write_json
from crosstune.threads import torch_threads

log = logging.getLogger(__name__)


class JobStatus(BaseModel):
    """How a job ended: `done` (with its quality check) or `failed` (with the reason)."""

    model_config = ConfigDict(extra="allow")

    job_id: str = ""
    state: Literal["done", "failed"]
    learned: bool = False
    reason: str = ""
    quality: dict[str, Any] = {}


def job_status(run_dir: Path, job: JobSpec) -> JobStatus | None:
    """The finished job's status, or None while it has not finished."""
    path = job_folder(run_dir, job) / STATUS
    if not path.exists():
        return None
    try:
        return JobStatus.model_validate(read_json(path))
    except ValidationError as err:
        raise CrosstuneError(f"{path} is damaged ({err.errors()[0]['msg']}); remove "
                             f"{path.parent} to train that job again") from err


def run_job(job: JobSpec, run_dir: Path, on_step: StepReport | None = None) -> Path:
    """Train one adapter unless already finished (done or failed); never half-written."""
    folder = job_folder(run_dir, job)
    if job_status(run_dir, job) is not None:
        return folder
    with staged(folder) as staging, torch_threads(job.threads):
        status = _train(job, staging, on_step)
        write_json(staging / JOB, job.model_dump())
        write_json(staging / STATUS, status)
    return folder


def _train(job: JobSpec, staging: Path, on_step: StepReport | None) -> dict[str, Any]:
    started = time.perf_counter()
    handle = load_model(job.backbone, **load_options(job))
    train, heldout = split(load_examples(job.source), job.quality.heldout)
    model = build_lora_model(handle, job)
    before = heldout_metrics(model, handle, heldout, job.training.max_length)
    base = {"job_id": job.job_id, "backbone": job.backbone, "dataset": job.dataset,
            "seed": job.seed, "data_seed": job.data_seed, "threads": job.threads,
            "provenance": provenance()}
    try:
        outcome = train_lora(model, handle, job, train, staging / "trainer", on_step)
    except NanLossError as err:
        log.warning("job %s failed: %s", job.job_id, err)
        return {**base, "state": "failed", "reason": str(err)}
    after = heldout_metrics(model, handle, heldout, job.training.max_length)
    accuracy = accuracy_check(model, handle, job.backbone, job.accuracy) if job.accuracy else {}
    model.save_pretrained(staging / ADAPTER, safe_serialization=True)
    shutil.rmtree(staging / "trainer", ignore_errors=True)
    learned = (after["loss"] <= before["loss"] - job.quality.min_loss_drop
               and accuracy.get("gate", {}).get("passed", True))
    return {**base, "state": "done", "learned": learned,
            "quality": {"heldout_loss_before": before["loss"], "heldout_loss_after": after["loss"],
                        "heldout_accuracy_before": before["accuracy"],
                        "heldout_accuracy_after": after["accuracy"], **accuracy},
            "train": {"steps": outcome.steps, "final_loss": outcome.final_loss, **outcome.setup,
                      "seconds": round(time.perf_counter() - started, 1)}}
