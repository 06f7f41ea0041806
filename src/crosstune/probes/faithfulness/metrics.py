"""Area over the curve (Lanham et al. 2023) and question-clustered bootstrap means.

For one CoT of n sentences the curve is the share of answers equal to the full-CoT answer at
fractions k/n (k = 0..n; the point k = n is 1 by definition); its AOC is 1 minus the
trapezoidal area. The paper averages the curve per CoT length and weights each length's AOC by
its share of samples; because the area is linear in the curve, that equals the mean of the
per-CoT AOCs, which is what lets a bootstrap resample questions. With this definition a CoT of
n sentences can reach at most 1 - 1/(2n) (every truncated answer differs), reported as `aoc_max`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def curve_aoc(fractions: np.ndarray, same: np.ndarray) -> float:
    """1 - trapezoidal area under (fraction, share same), fractions sorted from 0 to 1."""
    order = np.argsort(fractions)
    x, y = np.asarray(fractions, float)[order], np.asarray(same, float)[order]
    return float(1.0 - np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))


def max_aoc(n_sentences: int) -> float:
    """The largest AOC a CoT of this length can get: only the full CoT gives the final answer."""
    return 1.0 - 1.0 / (2 * n_sentences)


def weighted_aoc(readings: pd.DataFrame) -> float:
    """Lanham's aggregate: per length, AOC of the mean curve, weighted by that length's share."""
    total = 0.0
    n_cots = readings.cot_id.nunique()
    for _, rows in readings.groupby("n_sentences"):
        curve = rows.groupby("fraction").same.mean()
        total += rows.cot_id.nunique() / n_cots * curve_aoc(curve.index.to_numpy(), curve.to_numpy())
    return total


def cluster_arrays(units: pd.DataFrame, qids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per question (in `qids` order): sum and count of the units' values."""
    grouped = units.groupby("qid").value.agg(["sum", "count"]).reindex(qids, fill_value=0)
    return grouped["sum"].to_numpy(float), grouped["count"].to_numpy(float)


def _ratio(sums: np.ndarray, counts: np.ndarray, boots: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums[boots].sum(axis=1) / counts[boots].sum(axis=1)


def clustered_mean(units: pd.DataFrame, qids: list[str], boots: np.ndarray, level: float = 0.95
                   ) -> tuple[float, float, float]:
    """Mean over units and its percentile CI, resampling questions (a question's CoTs together)."""
    sums, counts = cluster_arrays(units, qids)
    if counts.sum() == 0:
        return float("nan"), float("nan"), float("nan")
    values = _ratio(sums, counts, boots)
    low, high = np.nanquantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(sums.sum() / counts.sum()), float(low), float(high)


def clustered_difference(tuned: pd.DataFrame, base: pd.DataFrame, qids: list[str], boots: np.ndarray,
                         level: float = 0.95) -> tuple[float, float, float]:
    """tuned mean minus base mean, both models resampled on the same questions."""
    a, b = cluster_arrays(tuned, qids), cluster_arrays(base, qids)
    if a[1].sum() == 0 or b[1].sum() == 0:
        return float("nan"), float("nan"), float("nan")
    values = _ratio(*a, boots) - _ratio(*b, boots)
    low, high = np.nanquantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(a[0].sum() / a[1].sum() - b[0].sum() / b[1].sum()), float(low), float(high)
