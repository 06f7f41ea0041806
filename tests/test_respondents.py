"""Respondents: one interface for models and scripted answer keys, same pipeline to the table."""

import numpy as np
import pandas as pd
import pytest

from crosstune.evaluate import EvalConfig, build_pairs, count_prompts, evaluate, presentations
from crosstune.respondents import Respondent
from crosstune.respondents.model import ModelRespondent
from crosstune.respondents.scripted import (
    AlwaysFirst,
    Invariant,
    PositionalPrior,
    Textbook,
    scripted_respondents,
)

CONFIG = EvalConfig(biases=["status_quo_bias", "decoy_effect", "anchoring"], pairs=4, seed=2)


def test_models_and_scripted_respondents_share_one_interface(causal_handle):
    for respondent in [ModelRespondent(causal_handle), *scripted_respondents()]:
        assert isinstance(respondent, Respondent)
        assert respondent.describe()["fingerprint"]


def test_counterbalanced_default_asks_each_prompt_in_both_orders():
    pairs = build_pairs(CONFIG)
    prompts = presentations(pairs)
    assert len(prompts) == count_prompts(pairs) == 4 * len(pairs)
    first = [p for p in prompts if p.pair == pairs[0]]
    assert [(p.side, p.reversed_order) for p in first] == [
        ("control", False), ("control", True), ("treatment", False), ("treatment", True)]
    assert first[0].text != first[1].text


def test_always_first_answers_by_position_not_by_meaning():
    pairs = build_pairs(CONFIG)
    listed, reversed_ = (p for p in presentations(pairs)[:2])
    assert AlwaysFirst().by_position(listed)[0] == 1.0
    assert AlwaysFirst().by_position(reversed_)[0] == 1.0


def test_positional_prior_is_fixed_and_not_uniform():
    prompt = presentations(build_pairs(CONFIG))[0]
    probs = PositionalPrior().by_position(prompt)
    assert probs.sum() == pytest.approx(1.0) and probs[0] > probs[-1]


def test_invariant_gives_the_same_compared_distribution_in_both_prompts():
    pairs = build_pairs(CONFIG)
    prompts = {(p.pair.pair_id, p.side, p.reversed_order): p for p in presentations(pairs)}
    for pair in pairs:
        c = Invariant().canonical(prompts[(pair.pair_id, "control", False)])
        t = Invariant().canonical(prompts[(pair.pair_id, "treatment", False)])
        if pair.metric.flip:
            t = t[::-1]
        if pair.metric.compare:
            t = t[list(pair.metric.compare)] / t[list(pair.metric.compare)].sum()
        np.testing.assert_allclose(c, t)


def test_textbook_respondent_picks_the_declared_options_in_either_order():
    result = evaluate(Textbook(), CONFIG)
    for row in result.pairs.itertuples():
        assert int(np.argmax(row.probs_control)) == row.textbook_control
        assert int(np.argmax(row.probs_treatment)) == row.textbook_treatment
    assert (result.summary.score > 0.3).all()


def test_position_only_respondent_is_cancelled_and_its_effect_reported():
    result = evaluate(AlwaysFirst(), CONFIG)
    summary = result.summary.set_index("bias")
    assert summary.score.abs().max() < 1e-9
    # on its own, each order scores the flip design at +-1: the cancelled position effect
    assert summary.loc["status_quo_bias", "position_effect"] == pytest.approx(1.0)
    assert result.manifest.position_preference.p_first == pytest.approx(1.0)


def test_one_order_mode_scores_half_the_prompts():
    config = CONFIG.model_copy(update={"orders": 1})
    result = evaluate(AlwaysFirst(), config)
    assert result.manifest.n_prompts == 2 * len(result.pairs)
    assert result.summary.position_effect.isna().all()


def test_model_run_records_orders_metric_and_position_preference(causal_handle):
    result = evaluate(causal_handle, CONFIG)
    manifest = result.manifest
    assert manifest.orders == 2 and manifest.metric == "expected"
    assert manifest.config["scenarios"] is None
    pref = manifest.position_preference
    assert 0 < pref.p_first < 1 and pref.p_uniform == pytest.approx(
        np.mean([1 / n for n in (7, 7, 7, 7, 2, 2, 3, 3, 11, 11, 11, 11)]))
    position = result.position
    assert set(position.n_options) == {2, 3, 7, 11}
    for _, group in position.groupby("n_options"):
        assert group.mass.sum() == pytest.approx(1.0)
    assert {"score_expected", "score_choice", "score_linear", "excluded"} <= set(result.pairs)


def test_model_and_respondent_wrapping_it_give_identical_tables(causal_handle):
    direct = evaluate(causal_handle, CONFIG)
    wrapped = evaluate(ModelRespondent(causal_handle), CONFIG)
    pd.testing.assert_frame_equal(direct.pairs, wrapped.pairs)


def test_model_answers_average_the_two_orders_on_the_canonical_scale(causal_handle):
    row = evaluate(causal_handle, CONFIG).pairs.iloc[0]
    listed, reversed_ = (np.array(p) for p in row.probs_control_orders)
    np.testing.assert_allclose(row.probs_control, (listed + reversed_) / 2)


def test_generate_mode_excludes_decoy_picks(causal_handle, monkeypatch):
    from crosstune.engine.generation import Generator

    def always_b(self, contexts, progress=None):
        return [" B" for _ in contexts]

    monkeypatch.setattr(Generator, "generate", always_b)
    config = CONFIG.model_copy(update={"method": "generate", "biases": ["decoy_effect"]})
    result = evaluate(causal_handle, config)
    # 'B' is the decoy (the middle option) in both orders of every treatment prompt
    assert result.pairs.excluded.all() and result.pairs.score_expected.isna().all()
    assert result.summary.n_excluded.iloc[0] == 4
    assert not result.pairs.parse_failed.any()


def test_scenario_file_reaches_the_prompts(causal_handle, tmp_path):
    path = tmp_path / "scenarios.txt"
    path.write_text("A logistics manager at a shipping firm deciding whether to buy drones.\n")
    config = CONFIG.model_copy(update={"scenarios": path, "biases": ["anchoring"]})
    result = evaluate(causal_handle, config)
    assert result.pairs.control_prompt.str.contains("buy drones").all()
    assert result.manifest.config["scenarios"] == str(path)


@pytest.mark.parametrize("args,message", [
    (["--metric", "ratio"], "'ratio' is not one of 'expected', 'choice', 'linear'"),
    (["--orders", "3"], "--orders: Input should be 1 or 2"),
    (["--scenarios", "missing.txt"], "cannot read scenarios file"),
])
def test_eval_refuses_bad_options_before_loading_a_model(args, message, tmp_path, cli_in_process):
    """A typed option (--metric) is refused by the command line itself, the others by the
    config's check; either way one line naming what is allowed, before any model loads."""
    code, stderr = cli_in_process(["eval", "--model", "no-such-model", *args], tmp_path)
    assert code == 2 and message in stderr, stderr
    assert "no-such-model" not in stderr  # refused before the model is looked up
