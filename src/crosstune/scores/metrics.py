"""Per-pair bias scores (BIASES.md) from the two option distributions of a pair.

All three take distributions on each prompt's canonical scale:

- ``expected`` (default): the expected Malberg ratio E[B] = sum_ij p1(i) p2(j) B(i, j) over
  independent draws of the control and treatment answers. On the published scale, smooth, uses
  all the probability and has no ties.
- ``choice``: B on the argmax options; a tie is scored as the mean of B over the tied options,
  so it cannot favour a canonical end.
- ``linear``: k(|E1-x1| - |E2-x2|)/(n-1) on expected indices, clipped to [-1, 1].

Difference designs (Itzhak et al.) score P(target | treatment) - P(target | control) over the
options both prompts offer; ``expected`` and ``linear`` coincide there.
"""

from __future__ import annotations

from typing import get_args

import numpy as np

from crosstune.choices import MetricName
from crosstune.errors import CrosstuneError
from crosstune.suite.types import Metric

METRICS: tuple[MetricName, ...] = get_args(MetricName)
_EPS = 1e-8
_TIE = dict(rtol=1e-9, atol=1e-12)

_BANDS: dict[str, float] = {"expected": 0.088, "choice": 0.088, "linear": 0.044}


def neutral_band(metric: str) -> float:
    """|score| below which a direction counts as neutral, on `metric`'s own scale.

    0.088 is on Malberg's ratio scale (expected, choice). The linear score divides a shift by
    the scale length instead of by the larger distance from the reference (about half the
    scale for answers near the middle), so the same shift scores about half: band 0.044.
    """
    if metric not in _BANDS:
        raise CrosstuneError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    return _BANDS[metric]


def malberg_ratio(a1: float, a2: float, n: int, m: Metric) -> float:
    """B = k(|a1-x1| - |a2-x2|) / (max(|a1-x1|, |a2-x2|) + 1e-8), a2 mirrored when flip."""
    if m.flip:
        a2 = n - 1 - a2
    d1, d2 = abs(a1 - m.x1), abs(a2 - m.x2)
    return float(m.k * (d1 - d2) / (max(d1, d2) + _EPS))


def ratio_matrix(n: int, m: Metric) -> np.ndarray:
    """B(i, j) for every control answer i and treatment answer j (flip applied to j)."""
    i = np.arange(n, dtype=float)[:, None]
    j = np.arange(n, dtype=float)[None, :]
    if m.flip:
        j = n - 1 - j
    d1, d2 = np.abs(i - m.x1), np.abs(j - m.x2)
    return m.k * (d1 - d2) / (np.maximum(d1, d2) + _EPS)


def linear(e1: float, e2: float, n: int, m: Metric) -> float:
    """k(|e1-x1| - |e2-x2|) / (n-1) on expected indices, clipped to [-1, 1].

    Clipping only binds for designs whose x offsets lie off the scale (Planning Fallacy).
    """
    if m.flip:
        e2 = n - 1 - e2
    value = m.k * (abs(e1 - m.x1) - abs(e2 - m.x2)) / (n - 1)
    return float(np.clip(value, -1.0, 1.0))


def tied_argmax(p: np.ndarray) -> np.ndarray:
    """Every index whose probability equals the maximum (to rounding)."""
    return np.flatnonzero(np.isclose(p, p.max(), **_TIE))


def pair_scores(p_control: np.ndarray, p_treatment: np.ndarray, m: Metric) -> dict[str, float]:
    """{metric: score} for one pair from two normalised canonical distributions.

    NaN everywhere when a difference design's treatment puts no mass on the compared options
    (a generated pick of the decoy): the pair is excluded, never counted as a target pick.
    """
    if m.kind == "difference":
        return _difference(p_control, p_treatment, m)
    n = len(p_control)
    b = ratio_matrix(n, m)
    index = np.arange(n)
    t1, t2 = tied_argmax(p_control), tied_argmax(p_treatment)
    return {
        "expected": float(p_control @ b @ p_treatment),
        "choice": float(b[np.ix_(t1, t2)].mean()),
        "linear": linear(float(index @ p_control), float(index @ p_treatment), n, m),
    }


def _difference(p_control: np.ndarray, p_treatment: np.ndarray, m: Metric) -> dict[str, float]:
    # Compare on the options both prompts offer: an added option (the decoy) would otherwise
    # lower P(target) by dilution alone (1/2 -> 1/3 for an indifferent model).
    keep = list(m.compare) if m.compare is not None else list(range(len(p_treatment)))
    shared = p_treatment[keep]
    if shared.sum() <= 0 or p_control.sum() <= 0:
        return dict.fromkeys(METRICS, float("nan"))
    q1, q2 = p_control / p_control.sum(), shared / shared.sum()
    t1, t2 = m.target[0], keep.index(m.target[1])
    prob = float(m.sign * (q2[t2] - q1[t1]))
    choice = float(np.mean(tied_argmax(q2) == t2) - np.mean(tied_argmax(q1) == t1))
    return {"expected": prob, "choice": m.sign * choice, "linear": prob}
