"""Bias matrices with known backbone, instruction and seed effects: the analysis's answer key."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crosstune.analysis.matrix import BiasMatrix
from crosstune.analysis.origins import PairScores


def simulate(n_backbones: int = 2, n_instructions: int = 2, n_seeds: int = 3, n_biases: int = 30,
             sd_backbone: float = 0.3, sd_instruction: float = 0.1, sd_seed: float = 0.05,
             seed: int = 0) -> BiasMatrix:
    """score = backbone effect + instruction effect + seed noise, per bias (no interaction)."""
    rng = np.random.default_rng(seed)
    b_eff = rng.normal(0, sd_backbone, (n_backbones, n_biases))
    i_eff = rng.normal(0, sd_instruction, (n_instructions, n_biases))
    rows, labels = {}, {}
    for b in range(n_backbones):
        for i in range(n_instructions):
            for s in range(n_seeds):
                name = f"b{b}-i{i}-s{s}"
                rows[name] = b_eff[b] + i_eff[i] + rng.normal(0, sd_seed, n_biases)
                labels[name] = {"backbone": f"b{b}", "instruction": f"i{i}", "seed": str(s)}
    biases = [f"bias_{j:02d}" for j in range(n_biases)]
    scores = pd.DataFrame.from_dict(rows, orient="index", columns=biases)
    return BiasMatrix(scores, pd.DataFrame.from_dict(labels, orient="index"))


def planted_shares(n_backbones: int, n_instructions: int, sd_backbone: float,
                   sd_instruction: float, sd_seed: float) -> dict[str, float]:
    """Expected variance shares of the simulator's factors (population, not sample, variances).

    With few levels the sample share of a factor is biased low by (levels-1)/levels; this
    returns the population share, and tests allow for the small-design gap.
    """
    vb = sd_backbone**2 * (n_backbones - 1) / n_backbones
    vi = sd_instruction**2 * (n_instructions - 1) / n_instructions
    total = vb + vi + sd_seed**2
    return {"backbone": vb / total, "instruction": vi / total, "residual": sd_seed**2 / total}


@dataclass(frozen=True)
class PlantedBias:
    """One bias's planted effects, in score units (2 backbones x 2 instruction sets)."""

    backbone: float = 0.0
    """Added to the second backbone's models."""
    instruction: float = 0.0
    """Added to the models tuned on the second instruction set."""
    interaction: float = 0.0
    """Added only where both hold."""
    seed_sd: float = 0.0
    """SD of a model's own offset (seed noise)."""
    noise_sd: float = 0.02
    """SD of a model's per-pair answer noise (measurement noise)."""


def simulate_pairs(planted: dict[str, PlantedBias], n_seeds: int = 3, n_pairs: int = 20,
                   pair_sd: float = 0.2, seed: int = 0) -> tuple[BiasMatrix, PairScores]:
    """A 2 x 2 x n_seeds design with per-pair scores: every model sees the same pairs (a shared
    per-pair offset, `pair_sd`) plus its own answer noise; its score is the mean over pairs."""
    rng = np.random.default_rng(seed)
    models = [(b, i, s) for b in range(2) for i in range(2) for s in range(n_seeds)]
    names = [f"b{b}-i{i}-s{s}" for b, i, s in models]
    by_bias = {}
    for bias, p in planted.items():
        shared = rng.normal(0, pair_sd, n_pairs)
        rows = [b * p.backbone + i * p.instruction + b * i * p.interaction
                + rng.normal(0, p.seed_sd) + shared + rng.normal(0, p.noise_sd, n_pairs)
                for b, i, _ in models]
        by_bias[bias] = np.stack(rows)
    scores = pd.DataFrame({bias: s.mean(axis=1) for bias, s in by_bias.items()}, index=names)
    factors = pd.DataFrame([{"backbone": f"b{b}", "instruction": f"i{i}", "seed": str(s)}
                            for b, i, s in models], index=names)
    return BiasMatrix(scores, factors), PairScores(tuple(names), by_bias)
