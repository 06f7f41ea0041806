"""`crosstune run`: check the whole spec, plan the grid, train what is missing, evaluate, collect."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd

from crosstune.engine.cache import result_cache
from crosstune.errors import CrosstuneError
from crosstune.evaluate import build_pairs, evaluate_into
from crosstune.experiment.run_folder import RunFolder, RunJob
from crosstune.experiment.sources import RLSource
from crosstune.experiment.spec import ExperimentSpec, JobSpec, jobs
from crosstune.lab.datasets import load_examples, split
from crosstune.lab.executors import Executor, Task, run_tasks
from crosstune.lab.format_only import write_format_only
from crosstune.lab.job import run_job
from crosstune.lab.rl.check import check_rl
from crosstune.lab.rl.tables import write_rl
from crosstune.lab.task_accuracy import check_tasks
from crosstune.lab.train import StepReport, check_lengths, check_training
from crosstune.lab.transfer import training_disjointness, write_transfer
from crosstune.logs import also_log_to
from crosstune.models import load_model
from crosstune.models.adapters import attach_adapter
from crosstune.models.embedded import EMBEDDED
from crosstune.models.loader import check_model_spec, load_tokenizer
from crosstune.progress import Progress
from crosstune.scores.content import content_gate
from crosstune.store import (
    LABELS,
    LOG,
    SCORE_COLUMN,
    SCORES,
    SPEC,
    TRANSFER_DATA,
    claim,
    read_biases,
    slug,
    write_csv,
    write_json,
)
from crosstune.suite.registry import select_biases
from crosstune.suite.types import TestPair

log = logging.getLogger(__name__)


class RunProgress(Progress, Protocol):
    """A grid's display: stages (training, evaluation), units done, and a detail line."""

    def detail(self, text: str) -> None: ...


@dataclass(frozen=True)
class RunOutcome:
    train_s: float
    evaluate_s: float
    format_only: pd.DataFrame | None
    """Per backbone and format-only arm: task accuracy and bias distance (when the spec has arms)."""
    transfer_ratio: pd.DataFrame | None = None
    """Per backbone: held-out / train change of the biased arm (when the spec has [transfer])."""
    rl: pd.DataFrame | None = None
    """Per RL arm: calibration and accuracy before and after, over seeds (when the spec has [rl])."""


@dataclass(frozen=True)
class CheckedSpec:
    """A spec `check_spec` passed: running it checks (and loads) nothing a second time."""

    spec: ExperimentSpec
    transfer_overlap: dict[str, int] | None
    """The transfer arms' overlap with the evaluation, recorded in the run (None without [transfer])."""


def run_folder(spec: ExperimentSpec, parent: Path) -> Path:
    return parent / slug(spec.name)


def trains_here(executor: Executor, address: str | None) -> bool:
    """Whether training runs here (so this machine's devices decide the precision)."""
    return executor == "local" or address is None


def run_experiment(checked: CheckedSpec, run_dir: Path, executor: Executor = "local",
                   address: str | None = None, progress: RunProgress | None = None) -> RunOutcome:
    """The grid of a checked spec: claim the folder, train, evaluate, collect.

    Library logs go to the run folder's log file; rerunning resumes where it stopped.
    """
    spec = checked.spec
    claim_run_folder(spec, run_dir)
    if checked.transfer_overlap is not None:
        write_json(run_dir / TRANSFER_DATA, checked.transfer_overlap)
    result_cache().close()  # a damaged cache is found now, not after training
    with also_log_to(run_dir / LOG):
        started = time.perf_counter()
        train_all(RunFolder(run_dir, spec), executor, address, progress)
        trained = time.perf_counter()
        run = RunFolder(run_dir, spec)  # the job statuses as training left them, read once
        evaluate_all(run, executor, address, progress)
        scores, _ = collect(run)
        arms = write_format_only(run, scores)
        transfer = write_transfer(run, list(scores.columns))
        rl = write_rl(run)
    return RunOutcome(round(trained - started, 1), round(time.perf_counter() - trained, 1), arms,
                      transfer[1] if transfer else None, rl)


def check_spec(spec: ExperimentSpec, fetch: bool = True, on_this_machine: bool = True) -> CheckedSpec:
    """Everything a run would reject, rejected before any work (and by --dry-run alike).

    `fetch=False` (--dry-run) skips only what needs the network: hub datasets are not
    downloaded to count their rows; a real run checks them too before training.
    `on_this_machine`: training runs here, so its devices decide the precision.
    """
    written = spec.model_dump(mode="json")  # datasets as spelled
    for field in ("backbones", "datasets", "seeds"):
        values = written[field]
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            raise CrosstuneError(f"{field} lists {', '.join(repeated)} more than once")
    if spec.data_seeds is not None and len(set(spec.data_seeds)) != len(spec.data_seeds):
        raise CrosstuneError("data_seeds lists a seed more than once")
    arms = spec.transfer.arms() if spec.transfer is not None else {}
    listed = {d.text() for d in spec.datasets}
    twice = [f"{d!r} (the transfer arm {arm!r})" for arm, d in arms.items() if d in listed]
    if twice:
        raise CrosstuneError(f"datasets lists {', '.join(twice)}, which [transfer] trains already; "
                             "remove it from datasets")
    if on_this_machine:
        check_training(spec.training)
    evaluation_pairs = build_pairs(spec.evaluation)  # unknown biases, empty selections
    overlap = check_transfer(spec, evaluation_pairs) if spec.transfer is not None else None
    for backbone in spec.backbones:
        check_model_spec(backbone)
    if spec.rl is not None:
        check_rl(spec.rl)
    training_sets = {dataset.text(): split(load_examples(dataset), spec.quality.heldout)[0]
                     for dataset in spec.all_datasets
                     if not isinstance(dataset, RLSource) and (fetch or not dataset.on_the_hub)}
    for backbone in spec.backbones:
        if fetch or backbone in EMBEDDED or Path(backbone).expanduser().exists():
            check_lengths(load_tokenizer(backbone), training_sets, spec.training.max_length)
    if spec.accuracy is not None:
        check_tasks(spec.accuracy)
    return CheckedSpec(spec, overlap)


def check_transfer(spec: ExperimentSpec, evaluation_pairs: list[TestPair]) -> dict[str, int]:
    """Train and held-out biases exist and are evaluated; training never sees an evaluation
    scenario or prompt. Returns the overlap counts the run records."""
    assert spec.transfer is not None
    t = spec.transfer
    evaluated = {p.bias for p in evaluation_pairs}
    named = t.train_biases + (t.heldout_biases or [])
    missing = sorted({b.name for b in select_biases(named)} - evaluated)
    if missing:
        raise CrosstuneError(f"transfer biases {missing} are not in evaluation.biases; evaluate them too")
    if len(evaluated) == len(t.train_biases):
        raise CrosstuneError("transfer: no held-out bias is evaluated; add some to evaluation.biases")
    overlap = training_disjointness(spec, evaluation_pairs)
    if overlap["shared_scenarios"] or overlap["shared_prompts"]:
        raise CrosstuneError(f"transfer training pairs share {overlap['shared_scenarios']} scenario(s) and "
                             f"{overlap['shared_prompts']} prompt(s) with the evaluation; use the built-in "
                             "scenarios for evaluation or another scenarios file")
    return overlap


def plan(spec: ExperimentSpec, run_dir: Path) -> pd.DataFrame:
    """The job table: id, factors, and whether each job is done, failed or pending."""
    run = RunFolder(run_dir, spec)
    rows = []
    for job in run.jobs():
        model = run.finetune(job)
        rows.append({"job_id": job.spec.job_id, "backbone": model.backbone, "dataset": model.instruction,
                     "seed": job.spec.seed, "data_seed": job.spec.data_seed,
                     "state": job.status.state if job.status else "pending",
                     "reads content": content_gate(model.eval_folder,
                                                   run.untuned(model.backbone).eval_folder)})
    return pd.DataFrame(rows)


_ADDED_LATER = {"resources": ("num_cpus",),
                "evaluation": ("method", "metric", "orders", "token_budget", "server")}
"""Spec keys added after runs were made: left out of the stored spec while at their defaults, so a
folder a spec wrote before they existed is still that spec's."""


def claim_run_folder(spec: ExperimentSpec, run_dir: Path) -> None:
    """A run folder belongs to one spec: a changed spec must go to a new folder."""
    dump = spec.model_dump(mode="json")
    for section, keys in _ADDED_LATER.items():
        fields = type(getattr(spec, section)).model_fields
        for key in keys:
            if dump[section][key] == fields[key].default:
                del dump[section][key]
    if dump.get("rl", 0) is None:
        del dump["rl"]
    if not claim(run_dir, "crosstune-run", dump):
        write_json(run_dir / SPEC, dump)


def train_all(run: RunFolder, executor: Executor = "local", address: str | None = None,
              progress: RunProgress | None = None) -> None:
    """Train every job that has not finished, one task per job."""
    tasks = []
    for job in (j.spec for j in run.jobs() if j.status is None):
        label = f"{job.backbone} on {job.dataset}, seed {job.seed}"
        on_step = progress and (lambda step, total, loss, label=label: progress.detail(
            f"{label}: step {step}/{total}, loss {loss:.3f}"))
        tasks.append(Task(_train_job, (job.model_dump_json(), str(run.path.resolve())), job.threads,
                          label, {"on_step": on_step}))
    spec = run.valid_spec()
    _run(tasks, "training", executor, address, progress, spec.resources.num_gpus, spec.resources.num_cpus)


def _run(tasks: list[Task], what: str, executor: Executor, address: str | None,
         progress: RunProgress | None, num_gpus: float = 0, num_cpus: float | None = None) -> None:
    if progress and tasks:
        progress.stage(f"{what} ({executor})", len(tasks))

    def done(task: Task) -> None:
        if progress:
            progress.advance(1)
            progress.detail(f"finished {task.label}")

    run_tasks(tasks, executor, address, num_gpus, progress=done, num_cpus=num_cpus)


def _train_job(job_json: str, run_dir: str, on_step: StepReport | None = None) -> None:
    run_job(JobSpec.model_validate_json(job_json), Path(run_dir), on_step)


def _pending_evals(run: RunFolder, backbone: str) -> list[RunJob]:
    """The backbone's finished jobs whose finetune has no evaluation yet."""
    return [j for j in run.jobs() if j.spec.backbone == backbone and j.done and not j.evaluated]


def evaluate_all(run: RunFolder, executor: Executor = "local", address: str | None = None,
                 progress: RunProgress | None = None) -> None:
    """One task per backbone with work left: it loads the backbone once, evaluates it untuned,
    then switches through its finished adapters."""
    spec = run.valid_spec()
    tasks = []
    for b in spec.backbones:
        pending = [j.spec.job_id for j in _pending_evals(run, b)]
        if pending or not run.untuned(b).evaluated:
            tasks.append(Task(_evaluate_backbone, (spec.model_dump_json(), str(run.path.resolve()), b,
                                                   pending), spec.threads, f"{b} and its finetunes"))
    _run(tasks, "evaluating", executor, address, progress, spec.resources.num_gpus,
         spec.resources.num_cpus)


def _evaluate_backbone(spec_json: str, run_dir_text: str, backbone: str, job_ids: list[str]) -> None:
    """Evaluate the backbone untuned (unless done) and the finetunes of `job_ids`, loaded once."""
    spec = ExperimentSpec.model_validate_json(spec_json)
    run = RunFolder(Path(run_dir_text), spec)
    cache = result_cache()
    pairs = build_pairs(spec.evaluation)
    if spec.evaluation.server is not None:
        _evaluate_served(run, spec, backbone, job_ids, pairs)
        return
    config = spec.evaluation.scoring()  # the same identity as before [evaluation.server] existed
    handle = load_model(backbone)
    base = run.untuned(backbone)
    if not base.evaluated:
        evaluate_into(base.eval_folder, handle, config, cache, pairs=pairs)
    for job in (run.read_job(j) for j in jobs(spec) if j.job_id in job_ids):
        tuned = attach_adapter(handle, job.adapter, name=job.spec.job_id)
        evaluate_into(job.eval_folder, tuned, config, cache, pairs=pairs)
        handle = tuned


def _evaluate_served(run: RunFolder, spec: ExperimentSpec, backbone: str, job_ids: list[str],
                     pairs: list[TestPair]) -> None:
    """The same evaluations through the spec's server: each model under its name there."""
    from crosstune.experiment.serving import served_settings_for
    from crosstune.served.backend import connect

    config, cache = spec.evaluation.scoring(), result_cache()
    base = run.untuned(backbone)
    models = ([] if base.evaluated else [base]) + [
        run.finetune(run.read_job(j)) for j in jobs(spec) if j.job_id in job_ids]
    for model in models:
        backend = connect(served_settings_for(spec, model), cache, config.method == "generate")
        try:
            evaluate_into(model.eval_folder, backend, config, cache, pairs=pairs)
        finally:
            backend.close()


def training_effect(spec: ExperimentSpec, run_dir: Path) -> pd.DataFrame:
    """Per backbone and dataset: the finished jobs' mean held-out loss and token accuracy on their
    own instruction data, before and after finetuning; did training change behaviour at all?
    RL jobs have no instruction data to hold out (their tables are the RL arms')."""
    run = RunFolder(run_dir, spec)
    rows = []
    for model in run.models():
        q = model.job.status.quality if model.job and model.job.status else None
        if q is None or q.heldout_loss_before is None:
            continue
        rows.append({"backbone": model.backbone, "dataset": model.instruction,
                     "loss_before": q.heldout_loss_before, "loss_after": q.heldout_loss_after,
                     "accuracy_before": q.heldout_accuracy_before,
                     "accuracy_after": q.heldout_accuracy_after})
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows).groupby(["backbone", "dataset"], sort=False)
    out = table.mean().round(3)
    out.insert(0, "jobs", table.size())
    return out.reset_index()


def collect(run: RunFolder) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores: model x bias, labels: model -> backbone, instruction, seed, learned) of all evals."""
    models = [m for m in run.models() if m.evaluated]
    scores = {m.name: read_biases(m.eval_folder)[SCORE_COLUMN] for m in models}
    labels = {m.name: m.factors() for m in models}
    score_table = pd.DataFrame(scores).T.rename_axis("model")
    label_table = pd.DataFrame.from_dict(labels, orient="index").rename_axis("model")
    if not label_table.empty:
        label_table["learned"] = label_table["learned"].astype("boolean")
    write_csv(run.path / SCORES, score_table.reset_index())
    write_csv(run.path / LABELS, label_table.reset_index())
    return score_table, label_table
