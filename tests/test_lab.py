"""Cross-tuning on tiny models: seeded adapters, atomic resumable jobs, clear spec errors."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from crosstune.errors import CrosstuneError
from crosstune.experiment.run_folder import RunFolder
from crosstune.experiment.spec import ExperimentSpec, jobs, load_spec
from crosstune.lab.datasets import load_examples
from crosstune.lab.experiment import claim_run_folder, collect, evaluate_all, plan, train_all
from crosstune.lab.job import run_job
from crosstune.lab.train import target_modules
from crosstune.models import load_model

FAST = {"max_steps": 2, "batch_size": 2, "max_length": 48}


def spec_for(model_dir: Path, **overrides) -> ExperimentSpec:
    data = {"name": "t", "backbones": [str(model_dir)], "datasets": ["embedded:flan-style"],
            "seeds": [0], "training": FAST, "quality": {"heldout": 8},
            "evaluation": {"pairs": 1, "biases": ["anchoring", "decoy_effect"]}}
    data.update(overrides)
    return ExperimentSpec.model_validate(data)


def adapter_weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "adapter" / "adapter_model.safetensors")


def test_same_seed_gives_bit_identical_adapters_and_other_seeds_differ(saved_tiny_model, tmp_path):
    job0 = jobs(spec_for(saved_tiny_model, seeds=[0]))[0]
    job1 = jobs(spec_for(saved_tiny_model, seeds=[1]))[0]
    a = adapter_weights(run_job(job0, tmp_path / "a"))
    b = adapter_weights(run_job(job0, tmp_path / "b"))
    c = adapter_weights(run_job(job1, tmp_path / "c"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_job_records_quality_check_and_seeds(saved_tiny_model, tmp_path):
    job = jobs(spec_for(saved_tiny_model))[0]
    status = json.loads((run_job(job, tmp_path) / "status.json").read_text())
    assert status["state"] == "done"
    assert status["seed"] == 0 and status["data_seed"] == 0
    quality = status["quality"]
    assert quality["heldout_loss_before"] > 0 and quality["heldout_loss_after"] > 0
    assert isinstance(status["learned"], bool)


def test_nan_loss_marks_the_job_failed_with_a_reason(saved_tiny_model, tmp_path):
    spec = spec_for(saved_tiny_model, training={**FAST, "learning_rate": 1e38, "max_steps": 4})
    status = json.loads((run_job(jobs(spec)[0], tmp_path) / "status.json").read_text())
    assert status["state"] == "failed"
    assert "loss" in status["reason"]


def test_missing_lora_target_module_is_named(saved_tiny_model):
    handle = load_model(str(saved_tiny_model), device="cpu")
    with pytest.raises(CrosstuneError, match="query_key_value"):
        target_modules(handle.model, ["query_key_value"])


def test_bad_spec_key_is_named(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text('name = "x"\nbackbones = ["a"]\ndatasets = ["b"]\nseeds = [0]\n'
                    '[training]\nlearnig_rate = 0.1\n')
    with pytest.raises(CrosstuneError, match=r"training\.learnig_rate"):
        load_spec(path)


def test_malformed_dataset_row_names_file_and_row(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"prompt": "a", "completion": "b"}\n{"question": "c"}\n')
    with pytest.raises(CrosstuneError, match=r"d.jsonl, row 2: needs 'messages'"):
        load_examples(str(path))


def test_embedded_datasets_are_large_and_different_in_style():
    flan, tulu = load_examples("embedded:flan-style"), load_examples("embedded:tulu-style")
    assert len(flan) >= 2000 and len(tulu) >= 2000
    mean_len = [sum(len(e.completion) for e in d) / len(d) for d in (flan, tulu)]
    assert mean_len[1] > 5 * mean_len[0]


def test_changed_spec_under_an_existing_run_folder_is_refused(saved_tiny_model, tmp_path):
    claim_run_folder(spec_for(saved_tiny_model), tmp_path / "run")
    with pytest.raises(CrosstuneError, match="different spec"):
        claim_run_folder(spec_for(saved_tiny_model, seeds=[0, 1]), tmp_path / "run")


def _write_spec(path: Path, model_dir: Path, seeds: list[int]) -> None:
    path.write_text(
        f'name = "grid"\nbackbones = ["{model_dir}"]\n'
        f'datasets = ["embedded:flan-style", "embedded:tulu-style"]\nseeds = {seeds}\n'
        '[training]\nmax_steps = 2\nbatch_size = 2\nmax_length = 48\n'
        '[quality]\nheldout = 8\n'
        '[evaluation]\npairs = 1\nbiases = ["anchoring"]\n')


def test_sigkill_mid_grid_then_rerun_finishes_without_recomputing(saved_tiny_model, tmp_path):
    spec_path = tmp_path / "grid.toml"
    _write_spec(spec_path, saved_tiny_model, [0, 1])
    cmd = [sys.executable, "-m", "crosstune", "run", str(spec_path), "--out", str(tmp_path / "runs"),
           "--no-analyze"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=os.environ.copy())
    jobs_dir = tmp_path / "runs" / "grid" / "jobs"
    deadline = time.time() + 240
    while time.time() < deadline and not list(jobs_dir.glob("*/status.json")):
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {p: p.stat().st_mtime_ns for p in jobs_dir.glob("*/status.json")}
    assert 1 <= len(finished) < 4
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert all(p.stat().st_mtime_ns == t for p, t in finished.items())
    states = plan(load_spec(spec_path), tmp_path / "runs" / "grid").state
    assert list(states) == ["done"] * 4
    assert not list(jobs_dir.glob(".*"))  # no half-written job folders left behind
    scores = (tmp_path / "runs" / "grid" / "scores.csv").read_text()
    assert scores.count("\n") == 1 + 4 + 1  # header, four tuned models, the untuned backbone


def test_a_job_runs_with_its_own_thread_count_whatever_the_callers(saved_tiny_model, tmp_path):
    job = jobs(spec_for(saved_tiny_model, threads=2))[0]
    torch.set_num_threads(1)
    a = adapter_weights(run_job(job, tmp_path / "one"))
    assert torch.get_num_threads() == 1  # restored
    torch.set_num_threads(3)
    b = adapter_weights(run_job(job, tmp_path / "three"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_ray_executor_gives_the_same_adapters_and_scores_as_local(saved_tiny_model, tmp_path):
    pytest.importorskip("ray")
    spec = spec_for(saved_tiny_model, seeds=[0, 1])
    for executor in ("local", "ray"):
        run_dir = tmp_path / executor
        claim_run_folder(spec, run_dir)
        train_all(RunFolder(run_dir, spec), executor)
        evaluate_all(RunFolder(run_dir, spec), executor)
        collect(RunFolder(run_dir, spec))
    for job in jobs(spec):
        a = adapter_weights(tmp_path / "local" / "jobs" / job.job_id)
        b = adapter_weights(tmp_path / "ray" / "jobs" / job.job_id)
        assert all(torch.equal(a[k], b[k]) for k in a)
    local = pd.read_csv(tmp_path / "local" / "scores.csv")
    ray = pd.read_csv(tmp_path / "ray" / "scores.csv")
    assert len(local) == 3  # untuned backbone and two finetunes
    pd.testing.assert_frame_equal(local, ray, check_exact=True)


def test_eval_with_adapter_and_the_lab_fingerprint_a_finetune_alike(saved_tiny_model, tmp_path):
    spec, run_dir = spec_for(saved_tiny_model), tmp_path / "run"
    claim_run_folder(spec, run_dir)
    train_all(RunFolder(run_dir, spec))
    evaluate_all(RunFolder(run_dir, spec))
    job = jobs(spec)[0]
    lab = json.loads((run_dir / "jobs" / job.job_id / "eval" / "manifest.json").read_text())
    handle = load_model(str(saved_tiny_model), adapter=str(run_dir / "jobs" / job.job_id / "adapter"))
    assert handle.fingerprint == lab["model"]["fingerprint"]
    assert handle.base_fingerprint == load_model(str(saved_tiny_model)).fingerprint != handle.fingerprint
