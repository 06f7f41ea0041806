"""Per-bias summaries: mean score, bootstrap confidence interval, paired test."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


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


def summarise(pairs: pd.DataFrame, metric: str, seed: int) -> pd.DataFrame:
    """One row per bias from the per-pair table (columns score_linear, score_choice, ...)."""
    rows = []
    for bias, group in pairs.groupby("bias", sort=True):
        main = group[f"score_{metric}"].to_numpy(dtype=float)
        other_name = "choice" if metric == "linear" else "linear"
        other = group[f"score_{other_name}"].to_numpy(dtype=float)
        low, high = bootstrap_ci(main, seed)
        other_low, other_high = bootstrap_ci(other, seed)
        rows.append({
            "bias": bias,
            "n_pairs": len(group),
            "n_scored": int(np.sum(~np.isnan(main))),
            "score": float(np.nanmean(main)) if np.any(~np.isnan(main)) else float("nan"),
            "ci_low": low,
            "ci_high": high,
            "p_value": paired_p_value(main),
            f"score_{other_name}": float(np.nanmean(other)) if np.any(~np.isnan(other))
            else float("nan"),
            f"ci_low_{other_name}": other_low,
            f"ci_high_{other_name}": other_high,
            "valid_mass": float(group[["valid_mass_control", "valid_mass_treatment"]]
                                .to_numpy().mean()),
            "parse_failure_rate": float(group["parse_failed"].mean()),
        })
    return pd.DataFrame(rows)
