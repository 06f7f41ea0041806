"""Paper-scale plumbing, tested as far as a CPU can: what reaches TrainingArguments, what a Ray
task asks for, a job started as a module entry point, and the paper spec's offline dry run."""

import json
import socket
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError
from transformers import TrainingArguments
from typer.testing import CliRunner

from crosstune.cli import app
from crosstune.errors import CrosstuneError
from crosstune.experiment.run_folder import RunFolder
from crosstune.experiment.spec import ExperimentSpec, jobs, load_spec
from crosstune.lab import experiment
from crosstune.lab.launch import find_job
from crosstune.lab.train import Devices, load_options, resolve_precision, training_arguments

ROOT = Path(__file__).resolve().parents[1]
CPU = Devices(cuda=False, bf16=False)
A100 = Devices(cuda=True, bf16=True)
V100 = Devices(cuda=True, bf16=False)


def job_with(tmp_path: Path | None = None, backbone: str = "m", **training):
    spec = ExperimentSpec.model_validate({
        "name": "t", "backbones": [backbone], "datasets": ["embedded:flan-style"], "seeds": [0],
        "training": {"max_steps": 2, "batch_size": 2, "max_length": 48, **training},
        "quality": {"heldout": 8}})
    return jobs(spec)[0]


def test_auto_precision_is_bf16_on_cuda_with_bf16_fp16_on_older_cuda_fp32_on_cpu():
    assert resolve_precision("auto", A100) == "bf16"
    assert resolve_precision("auto", V100) == "fp16"
    assert resolve_precision("auto", CPU) == "fp32"
    assert resolve_precision("fp32", A100) == "fp32"


def test_fp16_on_cpu_is_refused_with_the_fix():
    with pytest.raises(CrosstuneError, match="fp16 needs a CUDA GPU"):
        resolve_precision("fp16", CPU)


@pytest.mark.parametrize("devices, flags, dtype", [(A100, (True, False), "bfloat16"),
                                                   (V100, (False, True), "float32"),
                                                   (CPU, (False, False), "float32")])
def test_precision_reaches_the_trainer_flags_and_the_load_dtype(tmp_path, devices, flags, dtype):
    job = job_with(precision="auto")
    kwargs = training_arguments(job, tmp_path, devices)
    assert (kwargs["bf16"], kwargs["fp16"]) == flags
    assert kwargs["use_cpu"] is (not devices.cuda)
    assert load_options(job, devices)["dtype"] == dtype


def test_bf16_on_cpu_is_autocast_over_an_fp32_base():
    assert load_options(job_with(precision="bf16"), CPU)["dtype"] == "float32"
    assert load_options(job_with(precision="bf16"), A100)["dtype"] == "bfloat16"


@pytest.mark.parametrize("devices, accumulation", [(Devices(True, True, world_size=1, gpus=1), 16),
                                                   (Devices(True, True, world_size=2, gpus=2), 8),
                                                   (Devices(True, True, world_size=8, gpus=8), 2),
                                                   (Devices(True, True, world_size=1, gpus=4), 4)])
def test_effective_batch_is_the_same_on_any_device_count(tmp_path, devices, accumulation):
    kwargs = training_arguments(job_with(batch_size=8, effective_batch_size=128), tmp_path, devices)
    assert kwargs["gradient_accumulation_steps"] == accumulation
    assert kwargs["per_device_train_batch_size"] * accumulation * devices.replicas == 128


def test_effective_batch_that_does_not_divide_the_devices_is_refused(tmp_path):
    with pytest.raises(CrosstuneError, match="not a multiple"):
        training_arguments(job_with(batch_size=8, effective_batch_size=128), tmp_path,
                           Devices(True, True, world_size=3, gpus=3))


def test_effective_batch_and_accumulation_together_are_refused():
    with pytest.raises(ValidationError, match="not both"):
        job_with(effective_batch_size=16, gradient_accumulation=2)


def test_gradient_checkpointing_and_deepspeed_reach_training_arguments(tmp_path):
    config = tmp_path / "zero2.json"
    config.write_text(json.dumps({"zero_optimization": {"stage": 2}, "train_batch_size": "auto"}))
    kwargs = training_arguments(job_with(gradient_checkpointing=True, deepspeed=str(config)), tmp_path, A100)
    assert kwargs["activation_checkpointing"] is True
    assert kwargs["activation_checkpointing_kwargs"] == {"use_reentrant": False}
    assert kwargs["deepspeed"] == str(config)


def test_missing_deepspeed_config_is_named(tmp_path):
    with pytest.raises(CrosstuneError, match=r"deepspeed config .* not found"):
        training_arguments(job_with(deepspeed=str(tmp_path / "nope.json")), tmp_path, A100)


def test_cpu_arguments_build_real_training_arguments(tmp_path):
    kwargs = training_arguments(job_with(precision="bf16", gradient_checkpointing=True,
                                         effective_batch_size=4), tmp_path, CPU)
    args = TrainingArguments(**kwargs)
    assert args.bf16 and not args.fp16
    assert args.gradient_checkpointing and args.gradient_accumulation_steps == 2
    assert args.per_device_train_batch_size == 2


def test_bf16_checkpointed_job_trains_on_cpu_and_records_its_setup(saved_tiny_model, tmp_path):
    from crosstune.lab.job import run_job

    job = job_with(backbone=str(saved_tiny_model), precision="bf16", gradient_checkpointing=True,
                   effective_batch_size=4)
    status = json.loads((run_job(job, tmp_path) / "status.json").read_text())
    assert status["state"] == "done"
    assert status["train"]["precision"] == "bf16"
    assert status["train"]["accumulation"] == 2 and status["train"]["effective_batch"] == 4
    assert status["train"]["gradient_checkpointing"] is True


class _StopRay(Exception):
    pass


def test_ray_job_tasks_request_the_spec_resources(tmp_path, monkeypatch):
    requested = {}

    def per_task(**more):
        requested.update(more)
        raise _StopRay

    def remote(**options):
        requested.update(options)
        return lambda fn: types.SimpleNamespace(options=per_task)

    fake = types.SimpleNamespace(is_initialized=lambda: True, remote=remote)
    monkeypatch.setitem(sys.modules, "ray", fake)
    spec = load_spec(ROOT / "examples" / "paper.toml")
    with pytest.raises(_StopRay):
        experiment.train_all(RunFolder(tmp_path, spec), executor="ray")
    assert requested["num_gpus"] == 4 and requested["num_cpus"] == 8


def test_paper_spec_dry_run_plans_every_job_without_the_network(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access during --dry-run")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    result = CliRunner().invoke(app, ["run", str(ROOT / "examples" / "paper.toml"), "--dry-run",
                                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    spec = load_spec(ROOT / "examples" / "paper.toml")
    assert len(jobs(spec)) == 2 * 2 * 3
    assert spec.training.effective_batch_size == 128 and spec.training.precision == "bf16"
    assert 64 <= spec.lora.rank <= 512
    assert not list(tmp_path.iterdir())  # a dry run writes nothing


def test_job_runs_as_a_module_entry_point_for_launchers(saved_tiny_model, tmp_path):
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(f'name = "launched"\nbackbones = ["{saved_tiny_model}"]\n'
                         'datasets = ["embedded:flan-style"]\nseeds = [0]\n'
                         '[training]\nmax_steps = 2\nbatch_size = 2\nmax_length = 48\n'
                         '[quality]\nheldout = 4\n')
    job = jobs(load_spec(spec_file))[0]
    done = subprocess.run([sys.executable, "-m", "crosstune.lab.launch", str(spec_file),
                           "--job", job.job_id[:8], "--out", str(tmp_path / "runs")],
                          capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "src")})
    assert done.returncode == 0, done.stderr[-2000:]
    status = json.loads((tmp_path / "runs" / "launched" / "jobs" / job.job_id / "status.json").read_text())
    assert status["state"] == "done", status.get("reason")
    assert status["job_id"] == job.job_id


def test_unknown_job_id_lists_the_spec_jobs(saved_tiny_model, tmp_path):
    with pytest.raises(CrosstuneError, match="matches 0 jobs"):
        find_job(ROOT / "examples" / "paper.toml", "zzzz")


def test_examples_whose_answer_truncation_cuts_away_are_refused_before_training(causal_handle, tmp_path):
    from crosstune.lab.bias_data import BiasSource
    from crosstune.lab.datasets import load_examples
    from crosstune.lab.train import build_lora_model, train_lora

    job = job_with(backbone="tiny", max_length=16)
    examples = load_examples(BiasSource(("anchoring",), "biased", 2).text())
    message = r"8 of 8 training examples .* training.max_length = 16 .* at least \d+"
    with pytest.raises(CrosstuneError, match=message):
        train_lora(build_lora_model(causal_handle, job), causal_handle, job, examples, tmp_path / "t")


def test_a_bf16_trained_model_is_measured_in_fp32_afterwards(causal_handle, tmp_path):
    """accelerate wraps the forward in autocast for bf16 and the Trainer leaves it on; the held-out
    loss after training (and task accuracy, and a planted model's numbers) must not run in bf16."""
    from crosstune.lab.datasets import load_examples
    from crosstune.lab.train import build_lora_model, heldout_metrics, train_lora

    job = job_with(backbone="tiny", precision="bf16", max_steps=1, max_length=256)
    examples = load_examples("embedded:flan-style")[:8]
    model = build_lora_model(causal_handle, job)
    train_lora(model, causal_handle, job, examples, tmp_path / "t")
    assert "_original_forward" not in vars(model) and not hasattr(model.forward, "__wrapped__")
    logits = model(**causal_handle.tokenizer(["a b c"], return_tensors="pt")).logits
    assert logits.dtype == torch.float32 and not torch.is_autocast_enabled("cpu")
    assert heldout_metrics(model, causal_handle, examples[:2], 256)["loss"] > 0
