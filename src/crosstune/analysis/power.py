"""Power of the origin tests: the smallest effect a design detects, and the seeds a target needs.

Every factor is tested with an F test against the seed residual (analysis/origins.py). For a
factor with `df` degrees of freedom and a residual with `df_residual`, the test at level `level`
detects with probability `power` any effect whose noncentrality reaches lambda*, the root of
    P(F'(df, df_residual, lambda) > F_crit(level)) = power.
The noncentrality of an effect of size d (score units) is d^2 / (c sigma^2), sigma^2 the residual
(seed) variance of one model's score and c the variance factor of the effect's contrast:
- main effect, d = difference between two level means with n models per level: c = 2 / n
  (with more than two levels the least favourable spread of the same range: two levels at +-d/2,
  the others in the middle, gives the same c);
- interaction, d = a difference of differences of cell means with r seeds per cell: c = 4 / r.
So the minimum detectable effect is sqrt(c lambda*) sigma. The level is the family's Bonferroni
level alpha / m (m tests in the Benjamini-Hochberg family): what a single effect among null ones
needs to be called; with several real effects BH is more lenient, so the figure is conservative.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import optimize, stats

POWER = 0.8
"""The power the minimum detectable effect is quoted at."""


@lru_cache(maxsize=1024)
def noncentrality(df: int, df_residual: int, level: float, power: float = POWER) -> float:
    """lambda* such that the F test at `level` rejects with probability `power`; NaN without df."""
    if df < 1 or df_residual < 1 or not 0 < level < 1:
        return float("nan")
    critical = stats.f.isf(level, df, df_residual)

    def gap(lam: float) -> float:
        return float(stats.ncf.sf(critical, df, df_residual, lam)) - power

    high = 10.0
    while gap(high) < 0:
        high *= 4
        if high > 1e9:
            return float("inf")
    return float(optimize.brentq(gap, 1e-9, high, xtol=1e-8))


def power_of(effect: float | np.ndarray, sigma: float | np.ndarray, df: int, df_residual: int,
             level: float, variance_factor: float) -> np.ndarray:
    """Probability that the F test at `level` detects an effect of this size (score units)."""
    if df < 1 or df_residual < 1:
        return np.full(np.shape(effect), np.nan)
    critical = stats.f.isf(level, df, df_residual)
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.asarray(effect, float) ** 2 / (variance_factor * np.asarray(sigma, float) ** 2)
    return stats.ncf.sf(critical, df, df_residual, lam)


@dataclass(frozen=True)
class Design:
    """What the F tests see of a backbone x instruction x seed grid."""

    backbones: int
    instructions: int
    per_backbone: float
    """Models per backbone level (harmonic mean over levels)."""
    per_instruction: float
    seeds_per_cell: float
    """Seeds per backbone x instruction cell (harmonic mean; 0 with a missing cell)."""
    df: dict[str, int]
    """Degrees of freedom per factor and of the residual (as in variance.anova_terms)."""

    def variance_factor(self, factor: str) -> float:
        """c of the module docstring: the effect's variance over one model's score variance."""
        if factor == "backbone":
            return 2 / self.per_backbone
        if factor == "instruction":
            return 2 / self.per_instruction
        return 4 / self.seeds_per_cell if self.seeds_per_cell > 0 else float("nan")


def grid_design(backbones: int, instructions: int, seeds: int) -> Design:
    """The design of a full grid with `seeds` seeds in every cell (interaction tested from 2)."""
    n = backbones * instructions * seeds
    df = {"backbone": backbones - 1, "instruction": instructions - 1}
    if seeds >= 2:
        df["interaction"] = (backbones - 1) * (instructions - 1)
        df["residual"] = n - backbones * instructions
    else:
        df["interaction"] = 0
        df["residual"] = n - backbones - instructions + 1
    return Design(backbones, instructions, instructions * seeds, backbones * seeds, seeds, df)


def detectable_effect(design: Design, factor: str, sigma: float | np.ndarray, level: float,
                      power: float = POWER) -> np.ndarray:
    """The smallest effect (score units) this factor's test detects with `power`; NaN where the
    design has no test for it (no degrees of freedom)."""
    lam = noncentrality(design.df[factor], design.df["residual"], level, power)
    return np.sqrt(design.variance_factor(factor) * lam) * np.asarray(sigma, float)


def seeds_needed(backbones: int, instructions: int, sigma: float, target: float, level: float,
                 factor: str = "backbone", power: float = POWER, most: int = 200) -> int | None:
    """The fewest seeds per cell with which `factor`'s detectable effect is at most `target`
    (None if even `most` seeds do not reach it)."""
    for seeds in range(1 if factor != "interaction" else 2, most + 1):
        design = grid_design(backbones, instructions, seeds)
        if design.df["residual"] < 1:
            continue
        if float(detectable_effect(design, factor, sigma, level, power)) <= target:
            return seeds
    return None
