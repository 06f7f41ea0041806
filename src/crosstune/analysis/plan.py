"""Plan a cross-tuning grid before paying for it: what it can detect, and the seeds a target needs.

The noise comes from an earlier analysis (its origins.csv: the seed SD per bias and, with pairs,
the measurement noise), an earlier cross-tuning run folder (analysed here), or a stated seed SD.
With pairs, one model's score variance is the seeds' own variance plus the pair noise over the
number of pairs, so planning more pairs shrinks only the second part.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from crosstune.analysis.origins import FACTORS, OriginSettings, origin_table
from crosstune.analysis.power import POWER, detectable_effect, grid_design, seeds_needed
from crosstune.errors import CrosstuneError
from crosstune.store import SPEC

DEFAULT_SEED_SD = 0.10
"""Stated default: the seed SD of one model's score that published cross-tuning tables show."""
ORIGINS_FILE = "origins.csv"


@dataclass(frozen=True)
class Noise:
    """One model's score noise: the seeds' own SD, and the pair part (SD x sqrt(pairs))."""

    seed_sd: float
    """SD of one model's score across seeds, measurement included, at `n_pairs` pairs."""
    pair_sd: float = 0.0
    """SD of one model's per-pair answer noise (0: unknown or none)."""
    n_pairs: int = 0
    source: str = f"stated default seed SD {DEFAULT_SEED_SD}"

    def at(self, pairs: int | None) -> float:
        """The seed SD with `pairs` pairs per bias instead of the measured number."""
        if not pairs or not self.n_pairs or not self.pair_sd:
            return self.seed_sd
        own = max(0.0, self.seed_sd**2 - self.pair_sd**2 / self.n_pairs)
        return float(np.sqrt(own + self.pair_sd**2 / pairs))


def noise_from(source: Path) -> Noise:
    """The median noise over biases of an analysis folder (origins.csv) or a cross-tuning run."""
    if (source / ORIGINS_FILE).is_file():
        table = pd.read_csv(source / ORIGINS_FILE)
    elif (source / SPEC).is_file():
        from crosstune.analysis.inputs import load_matrix

        loaded = load_matrix([source])
        table = origin_table(loaded.matrix, loaded.pairs, OriginSettings(resamples=0))
    else:
        raise CrosstuneError(f"{source} is neither an analysis folder ({ORIGINS_FILE}) nor a crosstune "
                             f"run folder ({SPEC}); give one, or state --seed-sd")
    if "seed_sd" not in table or table.seed_sd.isna().all():
        raise CrosstuneError(f"{source}: no seed SD could be measured (one seed per cell, or an "
                             "analysis from before crosstune measured it); state --seed-sd")
    seed_sd = float(np.nanmedian(table.seed_sd))
    pairs = int(table.n_pairs.max()) if "n_pairs" in table else 0
    pair_sd = 0.0
    if pairs and table.noise.notna().any():
        # noise: SE of a difference between two models = sqrt(2) x pair SD / sqrt(pairs)
        pair_sd = float(np.nanmedian(table.noise)) * np.sqrt(pairs / 2)
    return Noise(seed_sd, pair_sd, pairs, f"median over {len(table)} biases of {source}")


def plan(backbones: int, instructions: int, seeds: int, noise: Noise, biases: int = 34,
         target: float | None = None, pairs: int | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Per factor: the planned grid's detectable effect (80% power at the family's Bonferroni
    level), and the seeds per cell that detect `target`."""
    if backbones < 1 or instructions < 1 or seeds < 1 or biases < 1:
        raise CrosstuneError("backbones, instructions, seeds and biases must be at least 1")
    sigma = noise.at(pairs)
    design = grid_design(backbones, instructions, seeds)
    rows = []
    for factor in FACTORS:
        tests = sum(1 for f in FACTORS if design.df[f] > 0) * biases
        level = alpha / max(tests, 1)
        mde = float(detectable_effect(design, factor, sigma, level)) if design.df[factor] > 0 else np.nan
        needed = (seeds_needed(backbones, instructions, sigma, target, level, factor)
                  if target is not None and design.df[factor] > 0 else None)
        rows.append({"factor": factor, "df": design.df[factor], "df_residual": design.df["residual"],
                     "seed_sd": sigma, "detectable_effect": mde, "power": POWER,
                     "target": target, "seeds_needed": needed})
    return pd.DataFrame(rows)


def plan_sentence(table: pd.DataFrame, backbones: int, instructions: int, seeds: int, noise: Noise,
                  pairs: int | None) -> str:
    """The plan in words."""
    sd = table.seed_sd.iloc[0]
    shown = [f"{r.factor} {r.detectable_effect:.3f}" for r in table.itertuples()
             if np.isfinite(r.detectable_effect)]
    text = (f"A {backbones} x {instructions} grid with {seeds} seed{'s' if seeds != 1 else ''} per cell"
            f"{f' and {pairs} pairs per bias' if pairs else ''}, seed SD {sd:.3f} ({noise.source}), "
            f"detects effects of {', '.join(shown)} or more (80% power).")
    if seeds < 2:
        text += " With one seed per cell there is no interaction test and no seed-noise call."
    target = table.target.iloc[0]
    if target is not None and np.isfinite(target):
        needs = [f"{r.factor}: {r.seeds_needed if r.seeds_needed is not None else 'more than 200'}"
                 for r in table.itertuples() if r.df > 0 or r.factor == "interaction"]
        text += f" Seeds per cell to detect {target:g}: {'; '.join(needs)}."
    return text
