"""The command line: bad input is one clear line on stderr and exit code 2."""

import json
import subprocess
import sys

import pytest


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "crosstune", *args], capture_output=True,
                          text=True, timeout=300, env=env)


@pytest.mark.parametrize(("args", "message"), [
    (["eval", "--model", "no-such-model"], "unknown model 'no-such-model'"),
    (["eval", "--model", "x", "--biases", "framing"], "unknown bias 'framing'"),
    (["eval", "--model", "x", "--pairs", "0"], "--pairs must be at least 1"),
    (["eval", "--model", "x", "--method", "sample"], "--method must be"),
    (["biases", "show", "anchorin"], "Did you mean anchoring"),
])
def test_bad_input_exits_2_with_one_line_naming_the_problem(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreadable_gguf_exits_2(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"\x00" * 64)
    result = run("eval", "--model", str(bad), "--pairs", "1")
    assert result.returncode == 2
    assert "cannot read GGUF" in result.stderr


def test_eval_on_a_local_folder_writes_a_run(saved_tiny_model, tmp_path):
    out = tmp_path / "run"
    result = run("eval", "--model", str(saved_tiny_model), "--biases", "anchoring,decoy_effect",
                 "--pairs", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["biases"] == ["anchoring", "decoy_effect"]
    assert "anchoring" in result.stdout


def test_biases_list_names_every_bias():
    result = run("biases", "list")
    assert result.returncode == 0
    assert "survivorship_bias" in result.stdout


def test_analyze_a_scores_table_with_rule_labels(tmp_path):
    from crosstune.analysis.simulate import simulate

    m = simulate(seed=0)
    m.scores.T.rename_axis("bias").to_csv(tmp_path / "scores.csv")
    result = run("analyze", str(tmp_path / "scores.csv"), "--rule", "backbone=^(b\\d)",
                 "--rule", "instruction=(i\\d)", "--rule", "seed=s(\\d)", "--permutations", "19",
                 "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "backbone" in result.stdout
    assert (tmp_path / "out" / "report.html").exists()
    assert (tmp_path / "out" / "variance.csv").exists()


def test_analyze_without_labels_exits_2(tmp_path):
    (tmp_path / "s.csv").write_text("bias,m1,m2\nanchoring,0.1,0.2\n")
    result = run("analyze", str(tmp_path / "s.csv"))
    assert result.returncode == 2
    assert "--labels" in result.stderr
