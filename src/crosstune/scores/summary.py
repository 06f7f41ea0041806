"""Per-bias summaries: mean score, bootstrap confidence interval, paired test."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from crosstune.scores.content import COLUMNS as CONTENT_COLUMNS
from crosstune.scores.content import content_sensitivity
from crosstune.scores.metrics import METRICS


def bootstrap_ci(values: np.ndarray, seed: int, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean over pairs (degenerate samples give a point)."""
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    if len(values) == 1 or np.all(values == values[0]):
        return float(values[0]), float(values[0])
    res = stats.bootstrap((values,), np.mean, n_resamples=2000, confidence_level=level,
                          method="percentile", rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def paired_p_value(values: np.ndarray) -> float:
    """Wilcoxon signed-rank test of per-pair scores (treatment vs control) against zero."""
    values = values[~np.isnan(values)]
    if len(values) < 2 or np.all(values == 0):
        return 1.0
    return float(stats.wilcoxon(values, zero_method="zsplit").pvalue)


def _mean(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if np.any(~np.isnan(values)) else float("nan")


def summarise(pairs: pd.DataFrame, metric: str, seed: int) -> pd.DataFrame:
    """One row per bias from the per-pair table (columns score_expected, score_choice, ...).

    ``score``/``ci_low``/``ci_high``/``p_value`` are the headline metric's; every metric also
    has its own ``score_<m>``, ``ci_low_<m>``, ``ci_high_<m>``. ``position_effect`` is half the
    gap between the headline scores of the as-listed and the reversed presentation alone: what
    counterbalancing cancelled (NaN with one order). ``content_share`` / ``order_shift``: how much
    the answers follow the content rather than the letter position (scores/content.py).
    """
    content = (content_sensitivity(pairs) if {"probs_control_orders", "probs_treatment_orders"}
               <= set(pairs.columns) else pd.DataFrame(columns=CONTENT_COLUMNS))
    rows = []
    for bias, group in pairs.groupby("bias", sort=True):
        main = group[f"score_{metric}"].to_numpy(dtype=float)
        low, high = bootstrap_ci(main, seed)
        row = {
            "bias": bias,
            "n_pairs": len(group),
            "n_scored": int(np.sum(~np.isnan(main))),
            "n_excluded": int(group["excluded"].sum()),
            "score": _mean(main),
            "ci_low": low,
            "ci_high": high,
            "p_value": paired_p_value(main),
        }
        for name in METRICS:
            values = group[f"score_{name}"].to_numpy(dtype=float)
            row[f"score_{name}"] = _mean(values)
            row[f"ci_low_{name}"], row[f"ci_high_{name}"] = bootstrap_ci(values, seed)
        gap = (group["score_listed"] - group["score_reversed"]).to_numpy(dtype=float) / 2
        row["position_effect"] = _mean(gap)
        row["valid_mass"] = _mean(group[["valid_mass_control", "valid_mass_treatment"]]
                                  .to_numpy(dtype=float).ravel())
        row["parse_failure_rate"] = float(group["parse_failed"].mean())
        for column in CONTENT_COLUMNS:
            row[column] = float(content[column].get(bias, np.nan))
        rows.append(row)
    return pd.DataFrame(rows)
