"""The whole attribution analysis as one call, and the plain-language verdict it supports."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crosstune.analysis.clustering import clustering_table, cosine_similarity, kmeans_agreement, pca
from crosstune.analysis.matrix import BiasMatrix
from crosstune.analysis.seeds import reference_agreement, seed_sd, sign_agreement
from crosstune.analysis.variance import backbone_vs_instruction, estimability, variance_shares
from crosstune.store import write_csv, write_json


@dataclass
class Analysis:
    """Every table of the analysis, the settings that produced them, and the verdict."""

    matrix: BiasMatrix
    tables: dict[str, pd.DataFrame]
    settings: dict[str, Any]
    verdict: str
    notes: list[str] = field(default_factory=list)
    pca_explained: list[float] = field(default_factory=list)
    backbone_test: dict[str, float] = field(default_factory=dict)


def analyze(m: BiasMatrix, n_permutations: int = 999, standardize: bool = False, seed: int = 0,
            references: dict[str, pd.Series] | None = None, band: float = 0.088) -> Analysis:
    """Seed spread, similarity, clustering by each factor, K-Means, PCA, variance shares.

    `references` maps a backbone to a reference bias vector (e.g. its released finetune) that
    the seed majority of each of its groups is compared with, directions within ±band neutral.
    """
    x = m.values(standardize)
    tables: dict[str, pd.DataFrame] = {
        "scores": m.scores.reset_index(names="model"),
        "factors": m.factors.reset_index(names="model"),
        "similarity": cosine_similarity(m.scores).reset_index(names="model"),
    }
    notes = list(m.notes)
    labellings = m.factors[[c for c in ("backbone", "instruction") if c in m.factors]]
    tables["clustering"] = clustering_table(x, labellings, n_permutations, seed)
    tables["kmeans"] = kmeans_agreement(x, labellings, seed) if len(x) > 3 else pd.DataFrame()
    coords, explained = pca(m.scores, x)
    tables["pca"] = coords.join(m.factors).reset_index(names="model")
    backbone_test: dict[str, float] = {}
    if {"backbone", "instruction"} <= set(m.factors.columns):
        tables["seed_sd"] = seed_sd(m)
        tables["sign_agreement"] = sign_agreement(m)
        if references:
            tables["reference_agreement"] = reference_agreement(m, references, band)
        tables["variance"] = variance_shares(m)
        backbone_test = backbone_vs_instruction(m, n_permutations, seed)
        notes += estimability(m)
    settings = {"n_permutations": n_permutations, "standardize": standardize, "seed": seed,
                "neutral_band": band,
                "n_models": len(m.scores), "n_biases": m.scores.shape[1]}
    analysis = Analysis(m, tables, settings, "", notes, explained.tolist(), backbone_test)
    analysis.verdict = verdict(analysis)
    return analysis


def verdict(a: Analysis) -> str:
    """One paragraph that says what the numbers support, and how strongly."""
    parts = []
    clustering = a.tables["clustering"].set_index("labelling")
    for factor in ("backbone", "instruction"):
        if factor in clustering.index:
            row = clustering.loc[factor]
            parts.append(f"grouping by {factor} gives silhouette {row.silhouette:.2f} "
                         f"(permutation p = {row.p_silhouette:.3f})")
    text = "Across {} models and {} biases, {}.".format(
        a.settings["n_models"], a.settings["n_biases"], "; ".join(parts) or "no labelling to test")
    if "variance" in a.tables:
        mean = a.tables["variance"].set_index("bias").loc["pooled"]
        text += (f" Pooled over biases, backbone (pretraining) explains {mean.backbone:.0%} of "
                 f"the variance, instruction data {mean.instruction:.0%}, their interaction "
                 f"{_pct(mean.interaction)} and seeds/residual {_pct(mean.residual)}.")
        if a.backbone_test:
            p = a.backbone_test["p_value"]
            gap = a.backbone_test["gap"]
            lead = "pretraining" if gap > 0 else "instruction data"
            strength = "clearly" if p < 0.05 else "not significantly"
            text += (f" The backbone-minus-instruction gap is {gap:+.2f} (p = {p:.3f}): "
                     f"{lead} {strength} dominates.")
    if "reference_agreement" in a.tables and not a.tables["reference_agreement"].empty:
        share = a.tables["reference_agreement"].share_preserved.mean()
        text += (f" The seeds' majority keeps the reference model's direction on {share:.0%} of "
                 "biases on average.")
    if "seed_sd" in a.tables and not a.tables["seed_sd"].empty:
        text += f" Seed noise: mean per-bias SD across seeds {a.tables['seed_sd'].mean_sd.mean():.3f}."
    return text


def _pct(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.0%}"


def write_analysis(a: Analysis, folder: Path) -> None:
    """Every table as CSV, everything together as analysis.json."""
    for name, table in a.tables.items():
        write_csv(folder / f"{name}.csv", table)
    write_json(folder / "analysis.json", {
        "settings": a.settings, "verdict": a.verdict, "notes": a.notes,
        "pca_explained_variance": a.pca_explained, "backbone_vs_instruction": a.backbone_test,
        "tables": {k: json.loads(v.to_json(orient="records")) for k, v in a.tables.items()},
    })
