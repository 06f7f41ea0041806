"""Variance decomposition: per bias, how much backbone, instruction data and seed explain."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crosstune.analysis.matrix import BiasMatrix
from crosstune.analysis.permutation import null_statistics, p_values
from crosstune.records import BackboneTest

SHARES = ["backbone", "instruction", "interaction", "residual"]


def _dummies(labels: np.ndarray) -> np.ndarray:
    """Treatment-coded indicator columns (first level dropped); none for a single level."""
    levels = np.unique(labels)
    return (labels[:, None] == levels[None, 1:]).astype(float)


def _rss(design: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Residual sum of squares of every column of y on one design (one least-squares solve)."""
    beta = np.linalg.lstsq(design, y, rcond=None)[0]
    return ((y - design @ beta) ** 2).sum(axis=0)


def anova_terms(x: np.ndarray, backbone: np.ndarray, instruction: np.ndarray
                ) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Two-way ANOVA (type II) for every column of x at once: (sums of squares, degrees of freedom).

    With every backbone x instruction cell replicated the model has the interaction; else it is
    additive and the interaction is NaN with 0 degrees of freedom. Type II sums of squares come
    from nested models sharing one design: SS(backbone) = RSS(1 + instruction) - RSS(1 + backbone
    + instruction), and so on. A factor with a single level gets NaN (nothing to test it on).
    """
    cells = pd.Series(list(zip(backbone, instruction, strict=True))).value_counts()
    ones = np.ones((len(x), 1))
    a, b = _dummies(backbone), _dummies(instruction)
    additive = np.hstack([ones, a, b])
    rss_additive = _rss(additive, x)
    rank_additive = np.linalg.matrix_rank(additive)
    ss = {"backbone": _rss(np.hstack([ones, b]), x) - rss_additive,
          "instruction": _rss(np.hstack([ones, a]), x) - rss_additive,
          "interaction": np.full(x.shape[1], np.nan), "residual": rss_additive}
    df = {"backbone": a.shape[1], "instruction": b.shape[1], "interaction": 0,
          "residual": len(x) - rank_additive}
    if cells.min() >= 2 and a.shape[1] and b.shape[1]:
        interaction = (a[:, :, None] * b[:, None, :]).reshape(len(x), -1)
        full = np.hstack([additive, interaction])
        rss_full = _rss(full, x)
        ss["interaction"], ss["residual"] = rss_additive - rss_full, rss_full
        rank_full = np.linalg.matrix_rank(full)
        df["interaction"], df["residual"] = rank_full - rank_additive, len(x) - rank_full
    for name, design in (("backbone", a), ("instruction", b)):
        if not design.shape[1]:
            ss[name] = np.full(x.shape[1], np.nan)
    return ss, df


def anova_shares(x: np.ndarray, backbone: np.ndarray, instruction: np.ndarray) -> pd.DataFrame:
    """Per column of x, eta^2 = SS_term / SS_total of each term of `anova_terms`."""
    ss, _ = anova_terms(x, backbone, instruction)
    total = ((x - x.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = {k: np.where(total > 0, v / total, np.nan) for k, v in ss.items()}
    return pd.DataFrame(shares, columns=SHARES)


@dataclass(frozen=True)
class VarianceShares:
    """Per-bias eta^2 (one row per bias) and its two aggregates, kept apart so that no bias
    name can collide with an aggregate's."""

    per_bias: pd.DataFrame
    aggregates: pd.DataFrame
    """Indexed by 'mean' (average of per-bias shares) and 'pooled' (summed sums of squares over
    the summed total: biases weighted by how much they vary)."""


def variance_shares(m: BiasMatrix) -> VarianceShares:
    """Per bias eta^2 of backbone, instruction, interaction, residual; plus two aggregates."""
    x = m.scores.to_numpy(dtype=float)
    shares = anova_shares(x, m.factors["backbone"].to_numpy(), m.factors["instruction"].to_numpy())
    totals = ((x - x.mean(axis=0)) ** 2).sum(axis=0)
    weights = totals / max(totals.sum(), 1e-300)
    pooled = (shares.fillna(0).to_numpy() * weights[:, None]).sum(axis=0)
    pooled[shares.isna().all().to_numpy()] = np.nan
    table = pd.concat([pd.DataFrame({"bias": m.scores.columns}), shares], axis=1)
    aggregates = pd.DataFrame([shares.mean().to_dict(), dict(zip(SHARES, pooled, strict=True))],
                              index=pd.Index(["mean", "pooled"], name="aggregate"))
    return VarianceShares(table, aggregates)


def estimability(m: BiasMatrix) -> list[str]:
    """What the design cannot estimate, in words."""
    notes = []
    cells = m.factors.groupby(["backbone", "instruction"]).size()
    if cells.min() < 2:
        notes.append("some backbone x instruction cells have a single model: the interaction "
                     "cannot be separated from seed noise (additive model used)")
    for factor in ("backbone", "instruction"):
        if m.factors[factor].nunique() < 2:
            notes.append(f"only one {factor} ({m.factors[factor].iloc[0]!r}): its variance share, "
                         "its clustering metrics and the backbone-vs-instruction test cannot be "
                         "computed")
    return notes


def _main_effect_shares(x: np.ndarray, backbone: np.ndarray, instruction: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Per-bias eta^2 of each main effect from group means (exact for balanced designs)."""
    centred = x - x.mean(axis=0)
    total = (centred**2).sum(axis=0)
    total = np.where(total > 0, total, np.nan)

    def share(labels: np.ndarray) -> np.ndarray:
        ss = sum((labels == g).sum() * centred[labels == g].mean(axis=0) ** 2
                 for g in np.unique(labels))
        return ss / total

    return share(backbone), share(instruction)


def backbone_vs_instruction(m: BiasMatrix, n_permutations: int = 999, seed: int = 0
                            ) -> BackboneTest | None:
    """Permutation test: is mean eta^2(backbone) - mean eta^2(instruction) larger than chance?

    The null reassigns whole (backbone, instruction) label pairs to models, keeping the design,
    so it asks whether the observed gap exceeds what unstructured labels produce. `p_value`
    tests "pretraining explains more", `p_instruction` the reverse; `null` says whether every
    distinct reassignment was enumerated or random ones drawn. None with a single level.
    """
    if m.factors["backbone"].nunique() < 2 or m.factors["instruction"].nunique() < 2:
        return None
    x = m.scores.to_numpy(dtype=float)
    pairs = m.factors[["backbone", "instruction"]].to_numpy()
    cells, codes = np.unique([f"{b}\0{i}" for b, i in pairs], return_inverse=True)
    by_cell = pairs[[list(codes).index(c) for c in range(len(cells))]]

    def gap(relabelled: np.ndarray) -> np.ndarray:
        b, i = _main_effect_shares(x, by_cell[relabelled, 0], by_cell[relabelled, 1])
        return np.array([np.nanmean(b) - np.nanmean(i)])

    observed = gap(codes)
    null, how = null_statistics(gap, codes, n_permutations, seed, named=True)
    p_backbone = p_values(observed, null, how, np.array([True]))[0]
    p_instruction = p_values(observed, null, how, np.array([False]))[0]
    return BackboneTest(gap=float(observed[0]), p_value=float(p_backbone),
                        p_instruction=float(p_instruction), null=how.describe(),
                        n_relabellings=how.n, exact=how.exact)
