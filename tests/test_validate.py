"""The suite's answer key: known-answer respondents through the whole pipeline, every bias.

A new bias cannot land unless respondents without the bias score exactly 0 on it (in the
default counterbalanced mode) and the textbook respondent scores above 0.
"""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from crosstune.cli import app
from crosstune.respondents.scripted import UNBIASED
from crosstune.scores.metrics import METRICS
from crosstune.suite.registry import all_biases, get_bias
from crosstune.validate import validate

BIASES = [b.name for b in all_biases()]


@pytest.fixture(scope="module")
def counterbalanced():
    return validate(pairs=12, seed=5)


def _score(result, respondent, bias, metric):
    s = result.scores
    return float(s[(s.respondent == respondent) & (s.bias == bias) & (s.metric == metric)].score.iloc[0])


@pytest.mark.parametrize("bias", BIASES)
@pytest.mark.parametrize("respondent", UNBIASED)
def test_respondents_without_the_bias_score_exactly_zero(counterbalanced, bias, respondent):
    if get_bias(bias).zero_offset:
        pytest.skip("offset zero point: checked in test_planning_fallacy_offset_is_explicit")
    for metric in METRICS:
        assert abs(_score(counterbalanced, respondent, bias, metric)) < 1e-9, metric


@pytest.mark.parametrize("bias", BIASES)
def test_textbook_respondent_scores_positive_and_above_0_3_on_the_expected_ratio(
        counterbalanced, bias):
    for metric in METRICS:
        assert _score(counterbalanced, "textbook", bias, metric) > 0, metric
    assert _score(counterbalanced, "textbook", bias, "expected") > 0.3


def test_validation_reports_no_failures_and_names_the_offset(counterbalanced):
    assert counterbalanced.failures == []
    assert set(counterbalanced.offsets) == {"planning_fallacy"}


def test_planning_fallacy_offset_is_explicit(counterbalanced):
    # uniform answers: expected index 5 in both prompts; linear = (|5+u| - |5+3|)/10 = (u-3)/10
    pairs = get_bias("planning_fallacy").generate(12, 5)
    offset = np.mean([(-p.metric.x1 - 3) / 10 for p in pairs])
    assert _score(counterbalanced, "uniform", "planning_fallacy", "linear") == pytest.approx(offset)
    assert abs(_score(counterbalanced, "invariant", "planning_fallacy", "expected")) > 1e-3


def test_one_order_mode_cancels_position_only_respondents_on_average_not_exactly():
    result = validate(["status_quo_bias", "bandwagon_effect"], pairs=10, seed=0, orders=1)
    assert result.failures == []
    # exactly balanced reversals: an always-first respondent's +1 and -1 pairs cancel
    for bias in ("status_quo_bias", "bandwagon_effect"):
        assert abs(_score(result, "always_first", bias, "expected")) < 1e-9


def test_validate_command_prints_the_table_and_writes_json(tmp_path):
    out = tmp_path / "v.json"
    result = CliRunner().invoke(app, ["biases", "validate", "--biases", "status_quo_bias,decoy_effect",
                                      "--pairs", "4", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "textbook" in result.output and "all invariants hold" in result.output
    data = json.loads(out.read_text())
    assert set(data) == {"always_first", "always_last", "positional_prior", "uniform", "invariant",
                         "textbook"}
    assert set(data["textbook"]["decoy_effect"]) == set(METRICS)


def test_validate_command_fails_when_a_template_is_wrong(monkeypatch):
    import crosstune.validate as module

    real = module.score_pairs

    def biased_first(respondent, pairs, *args):
        table, answers = real(respondent, pairs, *args)
        if respondent.name == "uniform":
            table["score_expected"] += 0.01
        return table, answers

    monkeypatch.setattr(module, "score_pairs", biased_first)
    result = CliRunner().invoke(app, ["biases", "validate", "--biases", "anchoring", "--pairs", "3"])
    assert result.exit_code == 1
    assert "FAIL uniform on anchoring (expected)" in result.output


def test_biases_show_states_the_offset_zero_point_and_the_textbook_answers():
    result = CliRunner().invoke(app, ["biases", "show", "planning_fallacy"])
    assert result.exit_code == 0
    assert "zero point offset" in result.output and "x1 = -u" in result.output
    assert "textbook answers" in result.output
    plain = CliRunner().invoke(app, ["biases", "show", "anchoring"])
    assert "zero point offset" not in plain.output
