"""The per-pair metric matches hand-computed examples from BIASES.md."""

import numpy as np
import pytest

from crosstune.scores.metrics import linear, malberg_ratio, pair_scores
from crosstune.suite.types import Metric


def test_default_metric_is_treatment_minus_control_over_max():
    # k=-1, x=0: (a2 - a1) / max(a1, a2)
    assert malberg_ratio(1, 3, 7, Metric()) == pytest.approx(2 / 3)
    assert malberg_ratio(3, 1, 7, Metric()) == pytest.approx(-2 / 3)


def test_metric_is_nonlinear_in_the_index():
    assert malberg_ratio(0, 1, 11, Metric()) == pytest.approx(1.0)
    assert malberg_ratio(9, 10, 11, Metric()) == pytest.approx(0.1)


def test_equal_answers_at_the_reference_score_zero():
    assert malberg_ratio(0, 0, 7, Metric()) == 0.0


def test_anchoring_offset_rewards_moving_towards_the_anchor():
    # anchor 76% -> x = 8; control 3, treatment 7: k (|3-8| - |7-8|) / max = (5 - 1) / 5
    m = Metric(k=1, x1=8, x2=8)
    assert malberg_ratio(3, 7, 11, m) == pytest.approx(0.8)


def test_flip_mirrors_the_treatment_answer_before_scoring():
    # n=7, treatment answer 1 is mirrored to 5: (5 - 1) / 5
    assert malberg_ratio(1, 1, 7, Metric(flip=True)) == pytest.approx(0.8)
    # a treatment that picks the mirrored option of the control answer is unbiased
    assert malberg_ratio(2, 4, 7, Metric(flip=True)) == pytest.approx(0.0)


def test_planning_fallacy_offsets_use_python_floor_division():
    p = 35
    m = Metric(k=1, x1=-p // 10, x2=-3)  # x1 = -4
    # (|2 + 4| - |2 + 3|) / max(6, 5)
    assert malberg_ratio(2, 2, 11, m) == pytest.approx(1 / 6)


def test_linear_score_uses_expected_index_over_scale_length():
    assert linear(1.0, 4.0, 7, Metric()) == pytest.approx(0.5)
    assert linear(1.0, 1.0, 7, Metric(flip=True)) == pytest.approx(4 / 6)


def test_linear_score_is_clipped_to_unit_interval():
    assert linear(10.0, 0.0, 11, Metric(k=1, x1=-9, x2=-3)) == 1.0


def test_difference_metric_uses_target_probabilities_and_sign():
    control, treatment = np.array([0.3, 0.7]), np.array([0.8, 0.2])
    choice, lin = pair_scores(control, treatment, Metric(kind="difference", target=(0, 0)))
    assert (choice, lin) == (pytest.approx(1.0), pytest.approx(0.5))
    choice, lin = pair_scores(control, treatment,
                              Metric(kind="difference", target=(0, 0), sign=-1.0))
    assert lin == pytest.approx(-0.5)


def test_pair_scores_reads_argmax_and_expectation():
    control = np.array([0.1, 0.6, 0.3, 0, 0, 0, 0])
    treatment = np.array([0, 0, 0, 0.2, 0.8, 0, 0])
    choice, lin = pair_scores(control, treatment, Metric())
    assert choice == pytest.approx((4 - 1) / 4)
    assert lin == pytest.approx((3.8 - 1.2) / 6)


def test_difference_metric_compares_on_the_options_both_prompts_share():
    # an indifferent model: uniform over 2 options, then over 3 (with the decoy): no effect
    _, lin = pair_scores(np.array([0.5, 0.5]), np.ones(3) / 3,
                              Metric(kind="difference", target=(0, 0)))
    assert lin == pytest.approx(0.0)
