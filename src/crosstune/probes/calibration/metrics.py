"""Calibration metrics of option probabilities, with paired bootstrap confidence intervals.

Everything is top-label (the confidence is the probability of the chosen option, the outcome is
whether that option is correct) except the Brier score, which is multi-class: the sum over all
options of (p - 1[correct])^2, between 0 and 2. The smooth ECE is relplot's SmoothECE
(Błasiok & Nakkiran 2023: a kernel-smoothed ECE with its bandwidth chosen from the data).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from crosstune.errors import CrosstuneError

Metric = Callable[[np.ndarray, np.ndarray, np.ndarray], float]
"""(confidence, correct, brier per item) -> value."""


def item_scores(probs: list[np.ndarray], answers: list[int]) -> pd.DataFrame:
    """Per question: chosen option, its probability, whether it is right, multi-class Brier."""
    rows = []
    for p, answer in zip(probs, answers, strict=True):
        onehot = np.eye(len(p))[answer]
        chosen = int(np.argmax(p))
        rows.append({"predicted": chosen, "confidence": float(p[chosen]),
                     "correct": chosen == answer, "brier": float(((p - onehot) ** 2).sum())})
    return pd.DataFrame(rows)


def bin_members(confidence: np.ndarray, bins: int, scheme: str) -> dict[int, np.ndarray]:
    """Bin number -> indices of the non-empty bins: equal-width on [0, 1], or equal-mass.

    Equal-mass edges are confidence quantiles; equal confidences always share a bin, so a
    respondent with few distinct confidences gets fewer, larger bins.
    """
    if scheme == "mass":
        edges = np.quantile(confidence, np.linspace(0, 1, bins + 1))[1:-1]
        which = np.searchsorted(edges, confidence, side="right")
    else:
        which = np.minimum((confidence * bins).astype(int), bins - 1)
    return {b: np.flatnonzero(which == b) for b in range(bins) if (which == b).any()}


def binned_ece(confidence: np.ndarray, correct: np.ndarray, bins: int = 10,
               scheme: str = "width") -> float:
    """Top-label ECE: bin-size-weighted mean |accuracy - mean confidence| over the bins."""
    total = len(confidence)
    return float(sum(len(ix) / total * abs(correct[ix].mean() - confidence[ix].mean())
                     for ix in bin_members(confidence, bins, scheme).values()))


def smooth_ece(confidence: np.ndarray, correct: np.ndarray) -> float:
    """relplot's SmoothECE (automatic bandwidth)."""
    import relplot

    return float(relplot.smECE(confidence.astype(np.float64), correct.astype(np.float64)))


def selective_curve(confidence: np.ndarray, correct: np.ndarray) -> pd.DataFrame:
    """Accuracy of the most confident answers at every coverage (answer only the top share)."""
    order = np.argsort(-confidence, kind="stable")
    hits = correct[order].astype(float).cumsum()
    kept = np.arange(1, len(order) + 1)
    return pd.DataFrame({"coverage": kept / len(order), "accuracy": hits / kept})


def selective_accuracy(confidence: np.ndarray, correct: np.ndarray, coverage: float = 0.5) -> float:
    """Accuracy on the `coverage` share of questions answered most confidently."""
    keep = max(1, round(coverage * len(confidence)))
    order = np.argsort(-confidence, kind="stable")[:keep]
    return float(correct[order].mean())


def metric_functions(bins: int) -> dict[str, Metric]:
    """Every reported metric by name."""
    return {
        "accuracy": lambda c, y, b: float(y.mean()),
        "brier": lambda c, y, b: float(b.mean()),
        "mean_confidence": lambda c, y, b: float(c.mean()),
        f"ece_width{bins}": lambda c, y, b: binned_ece(c, y, bins, "width"),
        f"ece_mass{bins}": lambda c, y, b: binned_ece(c, y, bins, "mass"),
        "smooth_ece": lambda c, y, b: smooth_ece(c, y),
        "selective_accuracy_50": lambda c, y, b: selective_accuracy(c, y, 0.5),
        "accuracy_coverage_auc": lambda c, y, b: float(selective_curve(c, y)["accuracy"].mean()),
    }


def _arrays(items: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (items["confidence"].to_numpy(float), items["correct"].to_numpy(bool),
            items["brier"].to_numpy(float))


MAX_BOOTSTRAP = 100_000
"""Resamples per CI at most: far beyond where a 95% percentile interval stops moving, and each
costs every metric once per model (about 10 ms at 60 questions)."""
MAX_RESAMPLED = 50_000_000
"""Bootstrap indices held at once (resamples x questions; 400 MB)."""


def resamples(n: int, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap index sets over questions; the same sets serve every model (paired). Called
    before any model loads, so a size that cannot fit is refused first."""
    if n_boot * n > MAX_RESAMPLED:
        raise CrosstuneError(f"--bootstrap {n_boot:,} x {n:,} questions is {n_boot * n:,} resampled "
                             f"indices; use --bootstrap {max(10, MAX_RESAMPLED // n):,} or fewer with "
                             "this many questions")
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def summarise(items: pd.DataFrame, bins: int, boots: np.ndarray, level: float = 0.95) -> pd.DataFrame:
    """metric, value, ci_low, ci_high (percentile bootstrap over questions)."""
    arrays = _arrays(items)
    rows = []
    for name, fn in metric_functions(bins).items():
        values = np.array([fn(*(a[ix] for a in arrays)) for ix in boots])
        low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
        rows.append({"metric": name, "value": fn(*arrays), "ci_low": low, "ci_high": high,
                     "n": len(items)})
    return pd.DataFrame(rows)


def paired_difference(tuned: pd.DataFrame, base: pd.DataFrame, bins: int, boots: np.ndarray,
                      level: float = 0.95) -> pd.DataFrame:
    """tuned minus base per metric, CI from resampling the same questions for both."""
    a, b = _arrays(tuned), _arrays(base)
    rows = []
    for name, fn in metric_functions(bins).items():
        values = np.array([fn(*(x[ix] for x in a)) - fn(*(x[ix] for x in b)) for ix in boots])
        low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
        rows.append({"metric": name, "difference": fn(*a) - fn(*b), "ci_low": low, "ci_high": high,
                     "n": len(tuned)})
    return pd.DataFrame(rows)


def reliability_table(items: pd.DataFrame, bins: int) -> pd.DataFrame:
    """Per bin and scheme: count, mean confidence, accuracy (the reliability diagram's data)."""
    conf, correct, _ = _arrays(items)
    rows = []
    for scheme in ("width", "mass"):
        for n, ix in bin_members(conf, bins, scheme).items():
            rows.append({"scheme": scheme, "bin": n, "count": len(ix),
                         "conf_low": conf[ix].min(), "conf_high": conf[ix].max(),
                         "confidence": conf[ix].mean(), "accuracy": correct[ix].mean()})
    return pd.DataFrame(rows)
