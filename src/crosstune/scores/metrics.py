"""Per-pair bias scores (BIASES.md): Malberg's ratio on chosen options and a linear score.

Both take option distributions on each prompt's canonical scale. The ratio metric is
nonlinear in the index (0->1 scores 1.0, 9->10 scores 0.1); the linear score uses the
expected index of the full distribution and divides by the scale length, so equal moves count
equally. The linear score is crosstune's default; the ratio is kept for comparison with
published numbers.
"""

from __future__ import annotations

import numpy as np

from crosstune.suite.types import Metric

_EPS = 1e-8


def malberg_ratio(a1: float, a2: float, n: int, m: Metric) -> float:
    """B = k(|a1-x1| - |a2-x2|) / (max(|a1-x1|, |a2-x2|) + 1e-8), a2 mirrored when flip."""
    if m.flip:
        a2 = n - 1 - a2
    d1, d2 = abs(a1 - m.x1), abs(a2 - m.x2)
    return float(m.k * (d1 - d2) / (max(d1, d2) + _EPS))


def linear(e1: float, e2: float, n: int, m: Metric) -> float:
    """k(|e1-x1| - |e2-x2|) / (n-1) on expected indices, clipped to [-1, 1].

    Clipping only binds for designs whose x offsets lie off the scale (Planning Fallacy).
    """
    if m.flip:
        e2 = n - 1 - e2
    value = m.k * (abs(e1 - m.x1) - abs(e2 - m.x2)) / (n - 1)
    return float(np.clip(value, -1.0, 1.0))


def pair_scores(p_control: np.ndarray, p_treatment: np.ndarray, m: Metric) -> tuple[float, float]:
    """(choice score, linear score) for one pair from two normalised option distributions."""
    if m.kind == "difference":
        t1, t2 = m.target
        # Compare on the options both prompts offer: an added option (the decoy) would otherwise
        # lower P(target) by dilution alone (1/2 -> 1/3 for an indifferent model).
        shared = min(len(p_control), len(p_treatment))
        p_control = p_control[:shared] / p_control[:shared].sum()
        p_treatment = p_treatment[:shared] / p_treatment[:shared].sum()
        choice = float(np.argmax(p_treatment) == t2) - float(np.argmax(p_control) == t1)
        return m.sign * choice, float(m.sign * (p_treatment[t2] - p_control[t1]))
    n = len(p_control)
    index = np.arange(n)
    a1, a2 = float(np.argmax(p_control)), float(np.argmax(p_treatment))
    e1, e2 = float(index @ p_control), float(index @ p_treatment)
    return malberg_ratio(a1, a2, n, m), linear(e1, e2, n, m)
