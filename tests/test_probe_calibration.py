"""Calibration probe: metrics on synthetic respondents with known answers, the engine path, files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from crosstune.errors import CrosstuneError
from crosstune.probes.calibration import CALIBRATION, CalibrationConfig, score_questions
from crosstune.probes.calibration import files as F
from crosstune.probes.calibration import metrics as cm
from crosstune.probes.interface import ModelRequest
from crosstune.probes.questions import generate_questions, load_questions
from crosstune.probes.runner import run_probe
from crosstune.store import MANIFEST, REPORT


def _items(confidence: np.ndarray, correct: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"confidence": confidence, "correct": correct,
                         "brier": (1 - confidence) ** 2})


def test_perfectly_calibrated_respondent_has_ece_near_zero():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.25, 1.0, 20000)
    correct = rng.uniform(size=confidence.size) < confidence
    assert cm.binned_ece(confidence, correct, 10, "width") < 0.02
    assert cm.binned_ece(confidence, correct, 10, "mass") < 0.02
    assert cm.smooth_ece(confidence, correct) < 0.02


def test_constant_overconfident_respondent_has_the_hand_computed_ece():
    # Always 90% sure, right 60 times in 100: every ECE is |0.6 - 0.9| = 0.3.
    confidence = np.full(100, 0.9)
    correct = np.arange(100) < 60
    assert cm.binned_ece(confidence, correct, 10, "width") == pytest.approx(0.3)
    assert cm.binned_ece(confidence, correct, 10, "mass") == pytest.approx(0.3)
    assert cm.smooth_ece(confidence, correct) == pytest.approx(0.3, abs=0.01)


def test_binned_ece_matches_a_hand_computation_with_two_bins():
    confidence = np.array([0.55, 0.6, 0.95, 0.9])
    correct = np.array([True, False, True, True])
    # width bins of 0.5: bin [0.5, 1] holds all: |0.75 - 0.75| = 0 ... use 10 bins:
    # bin 5: {0.55} acc 1 conf .55 -> .45 ; bin 6: {0.6} acc 0 -> .6 ; bin 9: {.95, .9} acc 1 -> .075
    expected = 0.25 * 0.45 + 0.25 * 0.6 + 0.5 * 0.075
    assert cm.binned_ece(confidence, correct, 10, "width") == pytest.approx(expected)
    # 2 equal-mass bins: {.55,.6} acc .5 conf .575 ; {.9,.95} acc 1 conf .925
    assert cm.binned_ece(confidence, correct, 2, "mass") == pytest.approx(0.5 * 0.075 + 0.5 * 0.075)


def test_multiclass_brier_is_zero_when_sure_and_right_and_two_when_sure_and_wrong():
    items = cm.item_scores([np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0])], [0, 0])
    assert items.brier.tolist() == [0.0, 2.0]
    assert items.correct.tolist() == [True, False]


def test_selective_accuracy_keeps_the_most_confident_answers():
    confidence = np.array([0.9, 0.8, 0.4, 0.3])
    correct = np.array([True, True, False, False])
    assert cm.selective_accuracy(confidence, correct, 0.5) == 1.0
    assert cm.selective_curve(confidence, correct).accuracy.tolist() == [1.0, 1.0, 2 / 3, 0.5]


def test_bootstrap_ci_contains_the_value_and_paired_difference_of_a_model_with_itself_is_zero():
    rng = np.random.default_rng(1)
    confidence = rng.uniform(0.3, 1, 200)
    items = _items(confidence, rng.uniform(size=200) < confidence)
    boots = cm.resamples(200, 100, 0)
    table = cm.summarise(items, 10, boots).set_index("metric")
    assert (table.ci_low <= table.value + 1e-12).all() and (table.value <= table.ci_high + 1e-12).all()
    diff = cm.paired_difference(items, items, 10, boots)
    assert np.allclose(diff[["difference", "ci_low", "ci_high"]].to_numpy(), 0)


def test_generated_questions_are_seeded_and_spread_the_correct_letter():
    a, b = generate_questions(40, 3), generate_questions(40, 3)
    assert a == b and a != generate_questions(40, 4)
    assert {q.kind for q in a} == {"arithmetic", "comparison", "unit", "logic"}
    assert len({q.answer for q in a}) >= 3
    for q in a:
        assert len(set(q.choices)) == len(q.choices)


def test_arithmetic_answers_are_right():
    for q in generate_questions(40, 0, ("arithmetic",)):
        expression = q.question.removeprefix("What is ").removesuffix("?")
        assert int(q.choices[q.answer]) == eval(expression)


def test_user_jsonl_questions_load_and_bad_lines_name_the_line(tmp_path):
    good = tmp_path / "q.jsonl"
    good.write_text(json.dumps({"question": "2+2?", "choices": ["3", "4"], "answer": "4"}) + "\n"
                    + json.dumps({"question": "1+1?", "choices": ["2", "5"], "answer": 0}) + "\n")
    assert [q.answer for q in load_questions(good)] == [1, 0]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "2+2?", "choices": ["3", "4"], "answer": "5"}) + "\n")
    with pytest.raises(CrosstuneError, match=r"bad\.jsonl:1"):
        load_questions(bad)


def test_both_orders_average_the_listed_and_reversed_probabilities(causal_handle):
    questions = generate_questions(6, 0)
    both = score_questions(causal_handle, questions, both_orders=True)
    listed = score_questions(causal_handle, questions, both_orders=False)
    for row, single in zip(both.itertuples(), listed.itertuples(), strict=True):
        by_order = np.array(row.probs_by_order)
        assert np.allclose(by_order[0], single.probs)
        assert np.allclose(np.mean(by_order, axis=0), row.probs)
        assert sum(row.probs) == pytest.approx(1.0)


def test_run_calibration_writes_tables_report_and_manifest(saved_tiny_model, tmp_path):
    out = tmp_path / "calib"
    config = CalibrationConfig(questions=8, bootstrap=20)
    result = run_probe(CALIBRATION, ModelRequest((str(saved_tiny_model),)), config, out)
    for name in (F.ANSWERS_PARQUET, F.METRICS_CSV, F.RELIABILITY_CSV, F.SELECTIVE_CSV,
                 F.MODELS_CSV, REPORT, MANIFEST):
        assert (out / name).exists(), name
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["kind"] == "crosstune-calibration" and manifest["n_questions"] == 8
    assert "smooth_ece" in set(result.tables[F.METRICS_CSV].metric)
    assert "Reliability diagram" in (out / REPORT).read_text()


def test_probe_refuses_a_folder_of_another_kind(tmp_path):
    (tmp_path / MANIFEST).write_text(json.dumps({"kind": "crosstune-eval"}))
    with pytest.raises(CrosstuneError, match="holds an evaluation"):
        run_probe(CALIBRATION, ModelRequest(("no-such-model",)), CalibrationConfig(), tmp_path)


def test_reliability_bins_are_numbered_by_their_place_on_the_confidence_axis():
    items = _items(np.array([0.95, 0.92, 0.31]), np.array([True, False, True]))
    width = cm.reliability_table(items, 10).query("scheme == 'width'")
    assert width.bin.tolist() == [3, 9]
    assert width["count"].tolist() == [1, 2]


def _cli(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "crosstune", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize(("args", "message"), [
    (["probe", "calibration", "x", "--bins", "1"], "--bins"),
    (["probe", "calibration", "no-such-model"], "unknown model 'no-such-model'"),
    (["probe", "faithfulness", "x", "--tests", "early,bogus"], "--tests"),
])
def test_probe_commands_reject_bad_input_with_one_line_and_exit_2(args, message, tmp_path):
    result = _cli(*args, "--out", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_probe_calibration_command_prints_metrics_and_writes_the_folder(saved_tiny_model, tmp_path):
    out = tmp_path / "cal"
    result = _cli("probe", "calibration", str(saved_tiny_model), "--questions", "4",
                  "--bootstrap", "10", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "smooth_ece" in result.stdout and (out / F.METRICS_CSV).exists()
