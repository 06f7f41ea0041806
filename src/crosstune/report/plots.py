"""Figures of the report, each returned as a base64 PNG so the HTML needs no other file."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from crosstune.analysis.origins import SIGNALS
from crosstune.report.style import encode

MARKERS = "osD^vP*X"


def pca_scatter(pca_table: pd.DataFrame, explained: list[float]) -> str:
    """PC1 x PC2; colour = backbone, marker = instruction data."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    colour_by = pca_table["backbone"] if "backbone" in pca_table else pd.Series("all", pca_table.index)
    marker_by = (pca_table["instruction"] if "instruction" in pca_table
                 else pd.Series("all", pca_table.index))
    colours = {v: f"C{i}" for i, v in enumerate(sorted(colour_by.unique()))}
    markers = {v: MARKERS[i % len(MARKERS)] for i, v in enumerate(sorted(marker_by.unique()))}
    y = pca_table["PC2"] if "PC2" in pca_table else pca_table["PC1"] * 0
    for (c, mk), idx in pca_table.groupby([colour_by, marker_by]).groups.items():
        ax.scatter(pca_table.loc[idx, "PC1"], y.loc[idx], c=colours[c], marker=markers[mk], s=60,
                   label=f"{c} / {mk}", edgecolors="black", linewidths=0.5)
    ax.set_xlabel(f"PC1 ({explained[0]:.0%} of variance)")
    if len(explained) > 1:
        ax.set_ylabel(f"PC2 ({explained[1]:.0%} of variance)")
    ax.legend(fontsize=8, title="backbone / instruction", title_fontsize=8)
    ax.grid(alpha=0.3)
    return encode(fig)


def similarity_heatmap(similarity: pd.DataFrame) -> str:
    matrix = similarity.set_index("model")
    size = max(4.0, 0.35 * len(matrix) + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    image = ax.imshow(matrix.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(matrix)), matrix.columns, rotation=90, fontsize=7)
    ax.set_yticks(range(len(matrix)), matrix.index, fontsize=7)
    fig.colorbar(image, ax=ax, label="cosine similarity")
    return encode(fig)


def bias_scores(scores: pd.DataFrame, cis: dict[str, pd.DataFrame] | None) -> str:
    """Per-bias score of each model, with CI bars where the run folders provide them."""
    table = scores.set_index("model")
    fig, ax = plt.subplots(figsize=(7, 0.25 * table.shape[1] + 1.5))
    for n, model in enumerate(table.index):
        values = table.loc[model]
        positions = [i + (n - len(table) / 2) * 0.8 / max(len(table), 1) for i in range(len(values))]
        if cis and model in cis:
            ci = cis[model].reindex(values.index)
            err = [values - ci.ci_low, ci.ci_high - values]
            ax.errorbar(values, positions, xerr=err, fmt="o", ms=3, label=model, capsize=2)
        else:
            ax.plot(values, positions, "o", ms=3, label=model)
    ax.set_yticks(range(table.shape[1]), table.columns, fontsize=7)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel("bias score")
    ax.legend(fontsize=6, loc="lower right")
    return encode(fig)


def variance_bars(variance: pd.DataFrame) -> str:
    table = variance.set_index("bias")[["backbone", "instruction", "interaction", "residual"]]
    fig, ax = plt.subplots(figsize=(7, 0.22 * len(table) + 1.5))
    table.fillna(0).plot.barh(stacked=True, ax=ax, width=0.8)
    ax.set_xlabel("share of variance (eta squared)")
    ax.set_xlim(0, 1)
    ax.legend(fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    return encode(fig)


def seed_spread(seed_sd: pd.DataFrame) -> str:
    fig, ax = plt.subplots(figsize=(5, 3))
    labels = seed_sd.backbone + " / " + seed_sd.instruction
    ax.bar(labels, seed_sd.mean_sd)
    ax.set_ylabel("mean per-bias SD across seeds")
    ax.tick_params(axis="x", rotation=30, labelsize=7)
    return encode(fig)


def _detectable(row: pd.Series) -> str:
    """The smallest backbone / instruction effect the design detects on this bias (80% power)."""
    shown = [f"{name} {row[f'mde_{factor}']:.2f}"
             for factor, name in (("backbone", "b"), ("instruction", "i"))
             if f"mde_{factor}" in row and np.isfinite(row[f"mde_{factor}"])]
    return f"  (detects {', '.join(shown)})" if shown else ""


def origin_shares(origins: pd.DataFrame) -> str:
    """Per bias: backbone and instruction shares with 95% whiskers, the called origin beside it
    with the smallest effect per factor the design detects on that bias."""
    table = origins.iloc[::-1].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.28 * len(table) + 1)))
    y = np.arange(len(table))
    for offset, (factor, colour) in zip((-0.18, 0.18), (("backbone", "C0"), ("instruction", "C1")),
                                        strict=True):
        share = table[f"share_{factor}"].fillna(0)
        low = (share - table[f"share_{factor}_low"].fillna(share)).clip(lower=0)
        high = (table[f"share_{factor}_high"].fillna(share) - share).clip(lower=0)
        ax.barh(y + offset, share, height=0.34, color=colour, label=factor,
                xerr=[low, high], error_kw={"elinewidth": 0.8, "capsize": 2})
    ax.set_yticks(y, table["bias"])
    for i, row in table.iterrows():
        ax.text(1.03, i, f"{row['origin']}{_detectable(row)}", va="center", fontsize=8,
                transform=ax.get_yaxis_transform(),
                color="C3" if row["origin"] in SIGNALS else "black")
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the between-model variance (95% bootstrap CI)")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3, axis="x")
    return encode(fig)
