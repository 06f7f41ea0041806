"""One RL job: LoRA on the backbone, trained by TRL's GRPOTrainer on one reward and question set,
measured before and after (and its answer formats counted at checkpoints)."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crosstune.engine.cache import ResultCache, result_cache
from crosstune.experiment import rl as F
from crosstune.experiment.sources import RLSource
from crosstune.experiment.spec import JobSpec, RLSpec
from crosstune.lab.rl import measure
from crosstune.lab.rl.parsing import Parsed
from crosstune.lab.rl.questions import question_set, run_eval_questions
from crosstune.lab.rl.rewards import Reward, load_reward, trl_reward
from crosstune.lab.train import Devices, StepReport, build_lora_model, load_options
from crosstune.models import load_model
from crosstune.models.handle import ModelHandle
from crosstune.probes.calibration import metrics as cm
from crosstune.probes.questions import Question
from crosstune.provenance import provenance
from crosstune.records import JobStatus, Quality
from crosstune.store import ADAPTER

log = logging.getLogger(__name__)


@dataclass
class Tally:
    """Completions the reward saw during training, and how many it could not read."""

    seen: int = 0
    unreadable: int = 0
    per_step: list[dict[str, float]] = field(default_factory=list)

    def count(self, reward: Reward, parsed: list[Parsed]) -> None:
        self.seen += len(parsed)
        self.unreadable += sum(not reward.readable(p) for p in parsed)


def grpo_arguments(job: JobSpec, rl: RLSpec, work_dir: Path, devices: Devices) -> dict[str, Any]:
    """GRPOConfig's keyword arguments: a group of completions per question, `prompts_per_step`
    questions per step, constant learning rate, seeded, nothing saved by TRL. No activation
    checkpointing (TRL's default turns it on): like the SFT arms, a small model on a CPU pays the
    recomputation and has the memory to spare."""
    return {
        "output_dir": str(work_dir), "max_steps": rl.steps, "learning_rate": rl.learning_rate,
        "lr_scheduler_type": "constant", "per_device_train_batch_size": rl.prompts_per_step * rl.group_size,
        "num_generations": rl.group_size, "max_completion_length": rl.max_completion_length,
        "temperature": rl.temperature, "beta": rl.beta, "seed": job.seed, "data_seed": job.data_seed,
        "logging_steps": 1, "save_strategy": "no", "report_to": [], "disable_tqdm": True,
        "dataloader_num_workers": 0, "use_cpu": not devices.cuda, "bf16": False,
        "activation_checkpointing": False,
    }


def run_rl_job(job: JobSpec, staging: Path, on_step: StepReport | None = None) -> JobStatus:
    """Train and measure one RL arm into `staging` (the job folder before its rename)."""
    from datasets import Dataset
    from transformers import PrinterCallback, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    rl, source = job.rl, job.source
    assert rl is not None and isinstance(source, RLSource)
    started = time.perf_counter()
    reward = load_reward(source.reward, rl.allow_code)
    train_qs = question_set(source.questions, rl.train_questions, rl.seed)
    eval_qs = run_eval_questions(rl)
    census_qs = eval_qs[:rl.census_questions]
    boots = cm.resamples(len(eval_qs), rl.bootstrap, rl.seed)
    handle = load_model(job.backbone, **load_options(job))
    model = build_lora_model(handle, job)
    tuned = measure.as_handle(handle, model, f"rl-{job.job_id}")
    base = JobStatus(job_id=job.job_id, backbone=job.backbone, dataset=job.dataset, seed=job.seed,
                     data_seed=job.data_seed, threads=job.threads, provenance=provenance(), state="failed")

    censuses: list[dict[str, Any]] = []

    def take_census(step: int) -> None:
        was_training = model.training
        model.eval()
        # before training the adapter is the identity (LoRA B = 0): the backbone's cached results hold
        who = handle if step == 0 else tuned
        row = measure.census(who, census_qs, rl.census_samples, rl.max_completion_length, rl.seed,
                             rl.temperature, cache if step == 0 else None)
        censuses.append({"step": step, **row})
        if was_training:
            model.train()

    cache = result_cache()
    before = _measure(handle, eval_qs, rl, boots, cache)  # LoRA B = 0: the backbone's cached results
    take_census(0)
    by_qid = {q.qid: q.choices for q in train_qs}
    tally = Tally()
    reward_fn = trl_reward(reward, by_qid.__getitem__, lambda parsed: tally.count(reward, parsed))

    class Watch(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "reward" in logs:
                tally.per_step.append({"step": state.global_step, "reward": float(logs["reward"]),
                                       "reward_std": float(logs.get("reward_std", math.nan)),
                                       "loss": float(logs.get("loss", math.nan))})
                log.info("RL job %s: step %d/%d, mean reward %.3f", job.job_id, state.global_step,
                         rl.steps, float(logs["reward"]))
                if on_step:
                    on_step(state.global_step, rl.steps, float(logs["reward"]))

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step % rl.census_every == 0 or state.global_step == rl.steps:
                take_census(state.global_step)

    rows = [{"prompt": c, "answer": q.answer, "qid": q.qid}
            for q, c in zip(train_qs, measure.contexts(handle, train_qs), strict=True)]
    devices = Devices.detect()
    trainer = GRPOTrainer(model=model, reward_funcs=reward_fn,
                          args=GRPOConfig(**grpo_arguments(job, rl, staging / "trainer", devices)),
                          train_dataset=Dataset.from_list(rows), processing_class=handle.tokenizer,
                          callbacks=[Watch()])
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    model.eval()
    after = _measure(tuned, eval_qs, rl, boots)
    model.save_pretrained(staging / ADAPTER, safe_serialization=True)
    _write_tables(staging, before, after, censuses, tally)
    changed = bool((before["stated_items"]["completion"] != after["stated_items"]["completion"]).any())
    return base.model_copy(update={
        "state": "done", "learned": changed, "quality": Quality(),
        "train": {"steps": len(tally.per_step), "reward": source.reward, "questions": source.questions,
                  "final_reward": tally.per_step[-1]["reward"] if tally.per_step else math.nan,
                  "completions": tally.seen, "unreadable": tally.unreadable,
                  "seconds": round(time.perf_counter() - started, 1)}})


def _measure(handle: ModelHandle, questions: list[Question], rl: RLSpec, boots: np.ndarray,
             cache: ResultCache | None = None) -> dict[str, pd.DataFrame]:
    items = measure.stated_items(handle, questions, rl.max_completion_length, cache)
    option_items, option = measure.option_metrics(handle, questions, boots, cache)
    return {"stated_items": items, "stated": measure.stated_metrics(items, boots),
            "option_items": option_items, "option": option}


def _write_tables(staging: Path, before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame],
                  censuses: list[dict[str, Any]], tally: Tally) -> None:
    from crosstune.store import write_csv

    folder = staging / F.RL_FOLDER
    folder.mkdir()

    def both(key: str) -> pd.DataFrame:
        return pd.concat([before[key].assign(when="before"), after[key].assign(when="after")],
                         ignore_index=True)

    write_csv(folder / F.STATED_CSV, both("stated"))
    write_csv(folder / F.OPTION_CSV, both("option"))
    both("stated_items").to_parquet(folder / F.STATED_ITEMS)
    write_csv(folder / F.CENSUS_CSV, pd.DataFrame(censuses))
    write_csv(folder / F.TRAIN_LOG_CSV, pd.DataFrame(tally.per_step))
