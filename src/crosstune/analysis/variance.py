"""Variance decomposition: per bias, how much backbone, instruction data and seed explain."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from statsmodels.stats.anova import anova_lm

from crosstune.analysis.matrix import BiasMatrix

TERMS = {"C(backbone)": "backbone", "C(instruction)": "instruction",
         "C(backbone):C(instruction)": "interaction", "Residual": "residual"}


def eta_squared(values: np.ndarray, backbone: np.ndarray, instruction: np.ndarray
                ) -> dict[str, float]:
    """Two-way ANOVA (type II) with replicates; eta^2 = SS_term / SS_total."""
    frame = pd.DataFrame({"y": values, "backbone": backbone, "instruction": instruction})
    replicated = frame.groupby(["backbone", "instruction"]).size().min() >= 2
    formula = ("y ~ C(backbone) * C(instruction)" if replicated
               else "y ~ C(backbone) + C(instruction)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = anova_lm(smf.ols(formula, frame).fit(), typ=2)
    total = float(((values - values.mean()) ** 2).sum())
    shares = {name: float("nan") for name in TERMS.values()}
    if total == 0:
        return shares
    for term, name in TERMS.items():
        if term in table.index:
            shares[name] = float(table.loc[term, "sum_sq"]) / total
    return shares


def variance_shares(m: BiasMatrix) -> pd.DataFrame:
    """Per bias eta^2 of backbone, instruction, interaction, residual; plus two aggregates.

    'mean' averages the per-bias shares; 'pooled' divides summed sums of squares by the summed
    total, weighting biases by how much they vary (the ratio of expectations, not its mean).
    """
    backbone = m.factors["backbone"].to_numpy()
    instruction = m.factors["instruction"].to_numpy()
    rows, totals = [], []
    for bias in m.scores.columns:
        values = m.scores[bias].to_numpy(dtype=float)
        rows.append({"bias": bias, **eta_squared(values, backbone, instruction)})
        totals.append(float(((values - values.mean()) ** 2).sum()))
    table = pd.DataFrame(rows)
    shares = table.drop(columns="bias")
    weights = np.asarray(totals) / max(sum(totals), 1e-300)
    pooled = (shares.fillna(0).to_numpy() * weights[:, None]).sum(axis=0)
    aggregates = pd.DataFrame([{"bias": "mean", **shares.mean().to_dict()},
                               {"bias": "pooled", **dict(zip(shares.columns, pooled, strict=True))}])
    return pd.concat([table, aggregates], ignore_index=True)


def estimability(m: BiasMatrix) -> list[str]:
    """What the design cannot estimate, in words."""
    notes = []
    cells = m.factors.groupby(["backbone", "instruction"]).size()
    if cells.min() < 2:
        notes.append("some backbone x instruction cells have a single seed: the interaction "
                     "cannot be separated from seed noise (additive model used)")
    for factor in ("backbone", "instruction"):
        if m.factors[factor].nunique() < 2:
            notes.append(f"only one {factor}: its share cannot be estimated")
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
                            ) -> dict[str, float]:
    """Permutation test: is mean eta^2(backbone) - mean eta^2(instruction) larger than chance?

    The null reassigns whole (backbone, instruction) label pairs to models at random, keeping
    the design, so it asks whether the observed gap exceeds what unstructured labels produce.
    """
    x = m.scores.to_numpy(dtype=float)
    backbone = m.factors["backbone"].to_numpy()
    instruction = m.factors["instruction"].to_numpy()

    def gap(order: np.ndarray) -> float:
        b, i = _main_effect_shares(x, backbone[order], instruction[order])
        return float(np.nanmean(b) - np.nanmean(i))

    observed = gap(np.arange(len(x)))
    rng = np.random.default_rng(seed)
    hits = sum(gap(rng.permutation(len(x))) >= observed for _ in range(n_permutations))
    return {"gap": observed, "p_value": (hits + 1) / (n_permutations + 1),
            "n_permutations": n_permutations}
