"""The instrument: every catalogue bias, deterministic and varied pairs, sane designs."""

import pytest

from crosstune.errors import CrosstuneError
from crosstune.suite.prompts import parse_answer, user_prompt
from crosstune.suite.registry import all_biases, get_bias, select_biases
from crosstune.suite.scenarios import SCENARIOS

CATALOGUE = {
    "anchoring", "anthropomorphism", "availability_heuristic", "bandwagon_effect",
    "confirmation_bias", "conservatism", "disposition_effect", "endowment_effect",
    "escalation_of_commitment", "framing_effect", "fundamental_attribution_error",
    "halo_effect", "hindsight_bias", "hyperbolic_discounting", "illusion_of_control",
    "in_group_bias", "information_bias", "loss_aversion", "mental_accounting",
    "negativity_bias", "not_invented_here", "optimism_bias", "planning_fallacy", "reactance",
    "risk_compensation", "self_serving_bias", "social_desirability_bias", "status_quo_bias",
    "stereotyping", "survivorship_bias", "certainty_effect", "belief_valid", "decoy_effect",
}


def test_suite_holds_all_33_catalogue_biases_plus_the_invalid_belief_counterpart():
    names = {b.name for b in all_biases()}
    assert names >= CATALOGUE
    assert names - CATALOGUE == {"belief_invalid"}


def test_scenario_pool_has_at_least_200_distinct_scenarios():
    assert len({(s.industry, s.role, s.decision) for s in SCENARIOS}) >= 200


@pytest.mark.parametrize("bias", all_biases(), ids=lambda b: b.name)
def test_same_seed_gives_identical_pairs_and_no_two_pairs_alike(bias):
    first, again = bias.generate(40, seed=7), bias.generate(40, seed=7)
    assert first == again
    assert len({(p.control, p.treatment) for p in first}) == 40
    assert all(p.control != p.treatment or p.control_options != p.treatment_options
               for p in first)
    assert all(len(p.control_options) == bias.n_options for p in first)


def test_different_seeds_give_different_pairs():
    bias = get_bias("anchoring")
    assert bias.generate(5, 0) != bias.generate(5, 1)


def test_option_order_is_reversed_for_about_half_of_the_pairs():
    pairs = [p for b in all_biases() for p in b.generate(20, 0)]
    share = sum(p.reversed_order for p in pairs) / len(pairs)
    assert 0.4 < share < 0.6


def test_flip_designs_present_the_treatment_options_mirrored():
    for pair in get_bias("status_quo_bias").generate(5, 0):
        assert pair.metric.flip
        assert pair.treatment_options == pair.control_options[::-1]


def test_reversed_presentation_maps_letters_back_to_the_scale():
    pair = next(p for p in get_bias("framing_effect").generate(20, 0) if p.reversed_order)
    prompt = user_prompt(pair, "control")
    assert f"A. {pair.control_options[-1]}" in prompt
    assert parse_answer(" A", pair, "control") == len(pair.control_options) - 1
    assert parse_answer("Option B.", pair, "control") == len(pair.control_options) - 2


def test_parse_accepts_option_text_and_rejects_noise():
    pair = get_bias("framing_effect").generate(1, 0)[0]
    assert parse_answer("Very poor, because", pair, "control") == 0
    assert parse_answer("I cannot decide", pair, "control") is None


def test_unknown_bias_names_the_closest_match():
    with pytest.raises(CrosstuneError, match="framing_effect"):
        get_bias("framing")


def test_select_biases_keeps_catalogue_order_without_duplicates():
    chosen = select_biases(["loss_aversion", "anchoring", "anchoring"])
    assert [b.name for b in chosen] == ["anchoring", "loss_aversion"]


def test_zero_pairs_is_an_error():
    with pytest.raises(CrosstuneError, match="at least 1"):
        get_bias("anchoring").generate(0, 0)
