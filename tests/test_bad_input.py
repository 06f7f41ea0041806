"""Hostile but realistic input: one line naming the problem, exit code 2, nothing good lost.

One table row per case; add a row with every new command or option. Each row builds its
files in a scratch folder, runs the real command line, and checks exit code, a fragment of
the message, that there is no traceback, and that the files it was given are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import assert_one_clear_line

Setup = Callable[[Path, Path], list[str]]  # (scratch folder, tiny model folder) -> CLI arguments


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crosstune", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=env or os.environ.copy())


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "crosstune-home" not in p.parts}


def _spec(tmp: Path, model: Path, **extra: str) -> Path:
    body = {"name": '"t"', "backbones": f'["{model}"]', "datasets": '["embedded:flan-style"]',
            "seeds": "[0]", **extra}
    sections = {k: v for k, v in body.items() if k.startswith("[")}
    text = "".join(f"{k} = {v}\n" for k, v in body.items() if not k.startswith("["))
    text += "".join(f"{k}\n{v}\n" for k, v in sections.items())
    path = tmp / "x.toml"
    path.write_text(text)
    return path


def _broken_weights(tmp: Path, model: Path) -> list[str]:
    broken = tmp / "broken"
    broken.mkdir()
    for f in model.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    (broken / "model.safetensors").write_bytes(b"\x00garbage" * 100)
    return ["eval", "--model", str(broken), "--pairs", "1"]


def _adapter(tmp: Path, config: str | None, weights: bytes | None, name: str = "adapter_model.safetensors"):
    folder = tmp / "adapter"
    folder.mkdir()
    if config is not None:
        (folder / "adapter_config.json").write_text(config)
    if weights is not None:
        (folder / name).write_bytes(weights)
    return folder


LORA_CONFIG = json.dumps({"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["q_proj"],
                          "task_type": "CAUSAL_LM"})


def _eval_then_other_settings(tmp: Path, model: Path) -> list[str]:
    out = tmp / "out"
    done = run(["eval", "--model", str(model), "--biases", "anchoring", "--pairs", "1", "--out", str(out)],
               tmp)
    assert done.returncode == 0, done.stderr
    return ["eval", "--model", str(model), "--biases", "anchoring", "--pairs", "2", "--out", str(out)]


def _analyze_into_run(tmp: Path) -> list[str]:
    from crosstune.analysis.simulate import simulate

    run_dir = tmp / "runs" / "t"
    run_dir.mkdir(parents=True)
    (run_dir / "spec.json").write_text("{}")
    (run_dir / "scores.csv").write_text("model,anchoring\na,0.1\n")
    simulate(seed=0).scores.T.rename_axis("bias").to_csv(tmp / "s.csv")
    return ["analyze", str(tmp / "s.csv"), "--rule", "backbone=^(b\\d)", "--rule", "instruction=(i\\d)",
            "--out", str(run_dir)]


def _cross_run(tmp: Path) -> Path:
    """A finished `crosstune run` folder (spec, scores, labels with untuned references) missing one score."""
    import pandas as pd

    from crosstune.analysis.simulate import simulate

    m = simulate(n_biases=4, seed=1)
    run_dir = tmp / "runs" / "t"
    run_dir.mkdir(parents=True)
    (run_dir / "spec.json").write_text("{}")
    untuned = pd.DataFrame({"backbone": ["b0", "b1"], "instruction": "untuned", "seed": "", "learned": ""},
                           index=["b0--untuned", "b1--untuned"])
    scores = pd.concat([m.scores, pd.DataFrame(0.0, index=untuned.index, columns=m.scores.columns)])
    scores.iloc[0, 0] = float("nan")
    scores.rename_axis("model").to_csv(run_dir / "scores.csv")
    pd.concat([m.factors.assign(learned="True"), untuned]).rename_axis("model").to_csv(run_dir / "labels.csv")
    return run_dir


def _status_file(tmp: Path, model: Path, text: str) -> list[str]:
    from crosstune.experiment.spec import jobs, load_spec

    spec_path = _spec(tmp, model, **{"[quality]": "heldout = 8"})
    job = jobs(load_spec(spec_path))[0]
    folder = tmp / "runs" / "t" / "jobs" / job.job_id
    folder.mkdir(parents=True)
    (folder / "status.json").write_text(text)
    return ["run", str(spec_path), "--out", str(tmp / "runs"), "--dry-run"]


def _file(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def _dataset(tmp: Path, model: Path, name: str, data: bytes) -> list[str]:
    spec = _spec(tmp, model, datasets=f'["{_file(tmp, name, data)}"]')
    return ["run", str(spec), "--dry-run"]


def _arm_twice(tmp: Path, model: Path) -> list[str]:
    from crosstune.experiment.spec import TransferSpec

    arm = TransferSpec(train_biases=["anchoring"]).arms()["biased"]
    spec = _spec(tmp, model, datasets=f'["{arm}"]', **{
        "[evaluation]": 'biases = ["anchoring", "bandwagon_effect"]',
        "[transfer]": 'train_biases = ["anchoring"]'})
    return ["run", str(spec), "--dry-run"]


CASES: dict[str, tuple[Setup, str]] = {
    # usage errors
    "pairs is not a number": (lambda t, m: ["eval", "--model", "x", "--pairs", "abc"], "--pairs"),
    "missing --model": (lambda t, m: ["eval"], "Missing option '--model'"),
    "unknown option": (lambda t, m: ["eval", "--model", "x", "--colour"], "No such option"),
    "misspelled command": (lambda t, m: ["evl"], "No such command"),
    "seed is not an integer": (lambda t, m: ["eval", "--model", "x", "--seed", "1.5"], "--seed"),
    "zero pairs": (lambda t, m: ["eval", "--model", "x", "--pairs", "0"], "--pairs must be at least 1"),
    "unknown method": (lambda t, m: ["eval", "--model", "x", "--method", "sample"], "--method"),
    "misspelled bias": (lambda t, m: ["biases", "show", "anchorin"], "Did you mean anchoring"),
    "unknown metric": (lambda t, m: ["eval", "--model", "x", "--metric", "median"], "--metric"),
    "empty bias selection": (lambda t, m: ["eval", "--model", "x", "--biases", ","], "names nothing"),
    "unknown bias": (lambda t, m: ["eval", "--model", "x", "--biases", "framing"], "unknown bias"),
    "unknown executor": (lambda t, m: ["run", str(_spec(t, m)), "--executor", "slurm"], "--executor"),
    # served models (more in test_served.py, against a stand-in server)
    "served model, nothing listening": (
        lambda t, m: ["eval", "--model", "served:m", "--base-url", "http://127.0.0.1:9/v1"],
        "cannot reach"),
    "served model, bad endpoint": (
        lambda t, m: ["eval", "--model", "served:m", "--base-url", "http://127.0.0.1:9/v1",
                      "--endpoint", "echo"], "--endpoint"),
    # models and devices
    "unknown model name": (lambda t, m: ["eval", "--model", "no-such-model"], "unknown model"),
    "missing local path": (lambda t, m: ["eval", "--model", "./no/such/folder"], "does not exist"),
    "missing path under an existing folder": (
        lambda t, m: ["eval", "--model", f"{t.name}/nope"], "does not exist"),
    "unreadable gguf": (lambda t, m: ["eval", "--model", str(_file(t, "b.gguf", b"\0" * 64))],
                        "cannot read GGUF"),
    "broken weights": (_broken_weights, "cannot load model"),
    "unknown device": (lambda t, m: ["eval", "--model", str(m), "--device", "tpu9"], "--device"),
    "unavailable device": (lambda t, m: ["eval", "--model", str(m), "--device", "cuda:3"],
                           "not available"),
    "adapter config not JSON": (
        lambda t, m: ["eval", "--model", str(m), "--adapter", str(_adapter(t, "{nope", b""))],
        "not valid JSON"),
    "adapter config not PEFT": (
        lambda t, m: ["eval", "--model", str(m), "--adapter", str(_adapter(t, "{}", b""))], "peft_type"),
    "adapter pickled only": (
        lambda t, m: ["eval", "--model", str(m), "--adapter",
                      str(_adapter(t, LORA_CONFIG, b"x", "adapter_model.bin"))], "pickled"),
    "adapter weights garbage": (
        lambda t, m: ["eval", "--model", str(m), "--adapter", str(_adapter(t, LORA_CONFIG, b"x" * 50))],
        "re-save the adapter"),
    # output folders: never overwrite, fail before the work
    "eval over other settings": (_eval_then_other_settings, "other settings"),
    "eval into a non-crosstune folder": (
        lambda t, m: ["eval", "--model", str(m), "--pairs", "1", "--out",
                      str(_file(t, "mine.txt", b"keep").parent)], "not written by crosstune"),
    "eval into a file": (lambda t, m: ["eval", "--model", str(m), "--out", str(_file(t, "f", b"x"))],
                         "not a folder"),
    "unwritable --out": (
        lambda t, m: ["eval", "--model", str(m), "--out", str(_file(t, "f", b"x") / "sub")],
        "cannot write"),
    "analyze --out into a cross-tuning run": (lambda t, m: _analyze_into_run(t), "cross-tuning run"),
    "eval into an analysis folder": (
        lambda t, m: ["eval", "--model", str(m), "--out",
                      str(_file(t, "manifest.json", b'{"kind": "crosstune-analysis"}').parent)],
        "holds an analysis"),
    "damaged manifest": (
        lambda t, m: ["eval", "--model", str(m), "--out",
                      str(_file(t, "manifest.json", b"{broken").parent)], "damaged"),
    # experiment specs: everything a run rejects, --dry-run rejects before any work
    "spec key misspelled": (
        lambda t, m: ["run", str(_spec(t, m, **{"[training]": "learnig_rate = 0.1"})), "--dry-run"],
        "training.learnig_rate"),
    "spec unknown bias": (
        lambda t, m: ["run", str(_spec(t, m, **{"[evaluation]": 'biases = ["framing"]'})), "--dry-run"],
        "unknown bias"),
    "spec held-out too large": (
        lambda t, m: ["run", str(_spec(t, m, **{"[quality]": "heldout = 5000"})), "--dry-run"],
        "held-out size"),
    "spec duplicate seeds": (lambda t, m: ["run", str(_spec(t, m, seeds="[0, 0]")), "--dry-run"],
                             "more than once"),
    "spec name escapes the folder": (
        lambda t, m: ["run", str(_spec(t, m, name='"../../x"')), "--dry-run"], "name"),
    "spec missing backbone": (
        lambda t, m: ["run", str(_spec(t, m, backbones='["./gone"]')), "--dry-run"], "does not exist"),
    "spec seed as a string": (lambda t, m: ["run", str(_spec(t, m, seeds='["1"]')), "--dry-run"], "seeds"),
    "spec precision fp16 on CPU (dry run)": (
        lambda t, m: ["run", str(_spec(t, m, **{"[training]": 'precision = "fp16"'})), "--dry-run"],
        "fp16 needs a CUDA GPU"),
    "spec precision fp16 on CPU (real run writes nothing)": (
        lambda t, m: ["run", str(_spec(t, m, **{"[training]": 'precision = "fp16"'})), "--out",
                      str(t / "runs")], "fp16 needs a CUDA GPU"),
    "spec missing DeepSpeed config": (
        lambda t, m: ["run", str(_spec(t, m, **{"[training]": 'deepspeed = "ds.json"'})), "--dry-run"],
        "deepspeed config ds.json not found"),
    "spec missing DeepSpeed config (real run writes nothing)": (
        lambda t, m: ["run", str(_spec(t, m, **{"[training]": 'deepspeed = "ds.json"'})), "--out",
                      str(t / "runs")], "deepspeed config ds.json not found"),
    "spec blank backbone": (lambda t, m: ["run", str(_spec(t, m, backbones='[""]')), "--dry-run"],
                            "backbones: Value error, an entry is blank"),
    "spec blank dataset": (lambda t, m: ["run", str(_spec(t, m, datasets='[" "]')), "--dry-run"],
                           "datasets: Value error, an entry is blank"),
    "spec empty target_modules": (
        lambda t, m: ["run", str(_spec(t, m, **{"[lora]": "target_modules = []"})), "--dry-run"],
        "lora.target_modules"),
    "spec empty biases": (
        lambda t, m: ["run", str(_spec(t, m, **{"[evaluation]": "biases = []"})), "--dry-run"],
        "evaluation.biases"),
    "spec 300-character name": (lambda t, m: ["run", str(_spec(t, m, name=f'"{"n" * 300}"')), "--dry-run"],
                                "name: String should have at most 100 characters"),
    "spec dataset identical to a transfer arm": (lambda t, m: _arm_twice(t, m), "which [transfer] trains"),
    "spec num_cpus zero": (
        lambda t, m: ["run", str(_spec(t, m, **{"[resources]": "num_cpus = 0"})), "--dry-run"],
        "resources.num_cpus"),
    "spec not UTF-8": (lambda t, m: ["run", str(_file(t, "x.toml", b'name = "\xe9"')), "--dry-run"],
                       "line 1: not UTF-8"),
    "spec is a folder": (lambda t, m: ["run", str(t), "--dry-run"], "is a folder"),
    "dataset garbage parquet": (lambda t, m: _dataset(t, m, "d.parquet", b"PAR1xx"),
                                "not a readable Parquet"),
    "dataset not UTF-8": (lambda t, m: _dataset(t, m, "d.jsonl", b'{"a": "\xff"}'), "not UTF-8"),
    "dataset malformed row": (lambda t, m: _dataset(t, m, "d.jsonl", b'{"x": 1}'), "row 1"),
    "damaged status.json": (lambda t, m: _status_file(t, m, "{half"), "damaged"),
    "status.json of another shape": (lambda t, m: _status_file(t, m, '{"state": "maybe"}'), "damaged"),
    # biases validate: the same selection rules as eval; the --json path checked before any work
    "validate empty bias selection": (lambda t, m: ["biases", "validate", "--biases", ","], "names nothing"),
    "validate --json into a missing folder": (
        lambda t, m: ["biases", "validate", "--biases", "anchoring", "--json", str(t / "no" / "v.json")],
        "does not exist"),
    "validate --json onto a folder": (
        lambda t, m: ["biases", "validate", "--biases", "anchoring", "--json", str(t)], "is a folder"),
    # absurd counts: refused up front with what they would cost
    "eval absurd --pairs": (lambda t, m: ["eval", "--model", str(m), "--pairs", "100000000"],
                            "at most 10,000"),
    "spec absurd transfer pairs": (
        lambda t, m: ["run", str(_spec(t, m, **{
            "[transfer]": 'train_biases = ["anchoring"]\npairs = 50000000'})), "--dry-run"],
        "training examples per arm"),
    "spec absurd mix_ratio": (
        lambda t, m: ["run", str(_spec(t, m, **{
            "[transfer]": 'train_biases = ["anchoring"]\nmix_ratio = 0.9999999'})), "--dry-run"],
        "training examples per arm"),
    "spec bias: source with absurd pairs": (
        lambda t, m: ["run", str(_spec(t, m, datasets='["bias:anchoring?direction=biased&pairs=30000000"]')),
                      "--dry-run"], "120,000,000 training examples; at most 1,000,000"),
    "spec bias: source with an absurd mix ratio": (
        lambda t, m: ["run", str(_spec(t, m, datasets='["bias:anchoring?direction=biased&mix=embedded:'
                                                      'flan-style&ratio=0.9999999"]')), "--dry-run"],
        "training examples; at most 1,000,000"),
    "plant absurd --pairs and --mix-ratio": (
        lambda t, m: ["plant", "--model", str(m), "--bias", "anchoring", "--pairs", "5000",
                      "--mix-ratio", "0.99", "--out", str(t / "planted")], "--pairs and --mix-ratio"),
    "spec examples longer than max_length (dry run)": (
        lambda t, m: ["run", str(_spec(t, m, **{"[training]": "max_length = 8"})), "--dry-run"],
        "longer than training.max_length = 8"),
    "spec examples longer than max_length (real run writes nothing)": (
        lambda t, m: ["run", str(_spec(t, m, **{"[training]": "max_length = 8"})), "--out", str(t / "runs")],
        "longer than training.max_length = 8"),
    # analyze on folders of another kind says which kind
    "analyze a calibration folder": (
        lambda t, m: ["analyze", str(_file(t, "manifest.json", b'{"kind": "crosstune-calibration"}').parent),
                      "--rule", "backbone=(.)", "--out", str(t / "a")], "is a calibration probe folder"),
    "analyze an analysis folder": (
        lambda t, m: ["analyze", str(_file(t, "manifest.json", b'{"kind": "crosstune-analysis"}').parent),
                      "--rule", "backbone=(.)", "--out", str(t / "a")], "is an analysis folder"),
    # numeric ranges
    "eval negative --pairs": (lambda t, m: ["eval", "--model", "x", "--pairs", "-3"],
                              "--pairs must be at least 1"),
    "validate zero --pairs": (lambda t, m: ["biases", "validate", "--pairs", "0"],
                              "--pairs must be at least 1"),
    "analyze zero --permutations": (
        lambda t, m: ["analyze", str(t), "--permutations", "0", "--out", str(t / "a")], "--permutations"),
    "analyze absurd --permutations": (
        lambda t, m: ["analyze", str(t), "--permutations", "100000000", "--out", str(t / "a")],
        "would run for hours"),
    "report negative --permutations": (
        lambda t, m: ["report", str(_file(t, "spec.json", b"{}").parent), "--permutations", "-1"],
        "--permutations"),
    "report on a non-run folder": (lambda t, m: ["report", str(t)], "not a crosstune run folder"),
    "analyze a cross-tuning run folder with --rule": (
        lambda t, m: ["analyze", str(_cross_run(t)), "--rule", "backbone=^(b\\d)", "--out", str(t / "a")],
        "is a cross-tuning run folder: its models are labelled by its own labels.csv"),
    "report a run folder with missing scores, no --impute": (
        lambda t, m: ["report", str(_cross_run(t)), "--permutations", "19"], "choose --impute drop"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_clear_line_and_exit_2(case, tmp_path, saved_tiny_model, cli_in_process):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    setup, fragment = CASES[case]
    args = setup(scratch, saved_tiny_model)
    before = snapshot(scratch)
    assert_one_clear_line(*cli_in_process(args, tmp_path), fragment)
    assert snapshot(scratch) == before


@pytest.mark.parametrize("home_kind", ["not a database", "inside a file"])
def test_a_bad_result_cache_is_named_or_rebuilt_before_loading(home_kind, tmp_path, saved_tiny_model):
    env = os.environ.copy()
    if home_kind == "not a database":
        env["CROSSTUNE_HOME"] = str(tmp_path / "home")
        (tmp_path / "home").mkdir()
        (tmp_path / "home" / "results.sqlite").write_bytes(b"not sqlite" * 100)
    else:
        env["CROSSTUNE_HOME"] = str(_file(tmp_path, "afile", b"x") / "home")
    result = run(["eval", "--model", str(saved_tiny_model), "--biases", "anchoring", "--pairs", "1",
                  "--out", str(tmp_path / "out")], tmp_path, env)
    if home_kind == "not a database":
        assert result.returncode == 0, result.stderr
        assert "damaged" in result.stderr and "started a new one" in result.stderr
        assert list((tmp_path / "home").glob("results.sqlite.damaged-*"))
    else:
        assert result.returncode == 2
        assert "CROSSTUNE_HOME" in result.stderr and "Traceback" not in result.stderr


def test_ctrl_c_during_eval_exits_130_and_writes_no_half_folder(tmp_path, saved_tiny_model,
                                                                isolated_home):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "crosstune", "eval", "--model", str(saved_tiny_model),
                             "--pairs", "300", "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            # a test run started in the background inherits SIGINT ignored; a
                            # user's Ctrl-C is what is tested, so give the command its default
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120  # the result cache is opened just before the model is loaded
    while time.time() < deadline and not (isolated_home / "results.sqlite").exists():
        time.sleep(0.2)
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not out.exists()


def test_a_ctrl_c_landing_in_a_finaliser_is_not_lost_but_raised_at_the_next_progress_step():
    """CI once saw Ctrl-C land in a tokenizer's `__del__`, where Python ignores exceptions: the
    eval ran on. The latch keeps the interrupt and the next unit of progress raises it."""
    from crosstune.progress import InterruptLatch, LogProgress

    class Finalised:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10_000):  # the handler runs at the interpreter's next check
                pass

    previous = signal.getsignal(signal.SIGINT)
    try:
        InterruptLatch.install()
        Finalised()
        assert InterruptLatch.requested
        with pytest.raises(KeyboardInterrupt):
            LogProgress().advance(1)
    finally:
        signal.signal(signal.SIGINT, previous)
        InterruptLatch.requested = False


def test_a_kill_while_writing_leaves_the_old_folder_whole(tmp_path, causal_handle, monkeypatch):
    import crosstune.store as store
    from crosstune.evaluate import EvalConfig, evaluate_into

    config = EvalConfig(biases=["anchoring"], pairs=1)
    evaluate_into(tmp_path / "run", causal_handle, config)
    before = snapshot(tmp_path / "run")

    def dies(path, frame):
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "write_csv", dies)
    with pytest.raises(KeyboardInterrupt):
        evaluate_into(tmp_path / "run", causal_handle, config)
    assert snapshot(tmp_path / "run") == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "crosstune-home") == ["run"]


def test_resources_num_cpus_as_the_readme_documents_it_is_accepted(tmp_path, saved_tiny_model):
    from crosstune.experiment.spec import load_spec

    spec = _spec(tmp_path, saved_tiny_model, **{"[resources]": "num_cpus = 3"})
    assert load_spec(spec).resources.num_cpus == 3
    result = run(["run", str(spec), "--dry-run", "--out", str(tmp_path / "runs")], tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "runs").exists()


def test_a_spec_with_a_byte_order_mark_is_read(tmp_path, saved_tiny_model):
    from crosstune.experiment.spec import load_spec

    path = _spec(tmp_path, saved_tiny_model)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_spec(path).name == "t"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_validate_json_into_a_read_only_folder_is_refused_before_the_table(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    result = run(["biases", "validate", "--biases", "anchoring", "--json", str(folder / "v.json")], tmp_path)
    assert result.returncode == 2 and "cannot write there" in result.stderr
    assert "known-answer" not in result.stdout


def test_report_impute_reaches_a_run_folder(tmp_path, cli_in_process):
    run_dir = _cross_run(tmp_path)
    code, stderr = cli_in_process(["report", str(run_dir), "--impute", "drop", "--permutations", "19"],
                                  tmp_path)
    assert code == 0, stderr
    notes = json.loads((run_dir / "analysis" / "analysis.json").read_text())["notes"]
    assert any("dropped biases with missing scores: ['bias_00']" in n for n in notes)


def test_report_offers_the_impute_its_messages_name():
    result = run(["report", "--help"], Path.cwd())
    assert "--impute" in result.stdout
