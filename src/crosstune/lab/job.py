"""run_job(spec) -> folder: one pure, idempotent training job, written atomically."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from crosstune.experiment.run_folder import RunFolder
from crosstune.experiment.sources import RLSource
from crosstune.experiment.spec import JobSpec
from crosstune.lab.task_accuracy import accuracy_check
from crosstune.lab.train import NanLossError, StepReport, finetune
from crosstune.provenance import provenance
from crosstune.records import JobStatus, Quality
from crosstune.store import ADAPTER, JOB, read_status, staged, write_json, write_status
from crosstune.threads import torch_threads

log = logging.getLogger(__name__)


def run_job(job: JobSpec, run_dir: Path, on_step: StepReport | None = None) -> Path:
    """Train one adapter unless already finished (done or failed); never half-written."""
    folder = RunFolder(run_dir).job_folder(job)
    if read_status(folder) is not None:
        return folder
    with staged(folder) as staging, torch_threads(job.threads):
        status = (_train_rl(job, staging, on_step) if isinstance(job.source, RLSource)
                  else _train(job, staging, on_step))
        write_json(staging / JOB, job.model_dump())
        write_status(staging, status)
    return folder


def _train_rl(job: JobSpec, staging: Path, on_step: StepReport | None) -> JobStatus:
    from crosstune.lab.rl.grpo import run_rl_job  # TRL loads only for RL arms

    return run_rl_job(job, staging, on_step)


def _train(job: JobSpec, staging: Path, on_step: StepReport | None) -> JobStatus:
    started = time.perf_counter()
    base = JobStatus(job_id=job.job_id, backbone=job.backbone, dataset=job.dataset, seed=job.seed,
                     data_seed=job.data_seed, threads=job.threads, provenance=provenance(),
                     state="failed")
    try:
        done = finetune(job, staging / "trainer", on_step)
    except NanLossError as err:
        log.warning("job %s failed: %s", job.job_id, err)
        return base.model_copy(update={"reason": str(err)})
    before, after, outcome = done.before, done.after, done.outcome
    accuracy = (accuracy_check(done.model, done.handle, job.backbone, job.accuracy) if job.accuracy
                else Quality())
    done.model.save_pretrained(staging / ADAPTER, safe_serialization=True)
    quality = accuracy.model_copy(update={
        "heldout_loss_before": before["loss"], "heldout_loss_after": after["loss"],
        "heldout_accuracy_before": before["accuracy"], "heldout_accuracy_after": after["accuracy"]})
    learned = after["loss"] <= before["loss"] - job.quality.min_loss_drop and quality.passed_gate
    return base.model_copy(update={
        "state": "done", "learned": learned, "quality": quality,
        "train": {"steps": outcome.steps, "final_loss": outcome.final_loss, **outcome.setup.model_dump(),
                  "seconds": round(time.perf_counter() - started, 1)}})
