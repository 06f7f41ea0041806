"""The values probe's page section: the rank plot and every table."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from crosstune.probes.interface import PageSection, ProbeResult
from crosstune.probes.values import files
from crosstune.report.style import encode

SECTIONS = [(files.MEAN_OF_MEDIANS_FILE, "Mean of median ranks (framing x category x family)"),
            (files.MIXED_FILE, "Linear mixed model (REML, random intercept per model)"),
            (files.CELLS_FILE, "Family differences per cell (Welch + Bonferroni; permutation)"),
            (files.ANOVA_FILE, "OLS, type-II ANOVA (LMs)"),
            (files.IMPLICIT_TOP_FILE, "Implicit reward: tokens each model favours (MWLR)"),
            (files.IMPLICIT_CATEGORIES_FILE, "Implicit reward: MWLR summed per category"),
            (files.MODEL_MEANS_FILE, "Per model: mean median rank")]


def rank_plot(model_means: pd.DataFrame, families: list[str]) -> str:
    """Mean median rank per model in each category x framing cell; colour = family."""
    cells = list(model_means.groupby(["category", "framing"], observed=True, sort=False).groups)
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(cells)), 4))
    width = 0.7 / max(1, len(families))
    for k, family in enumerate(families):
        mine = model_means[model_means["family"] == family]
        for x, (category, framing) in enumerate(cells):
            y = mine[(mine["category"] == category) & (mine["framing"] == framing)]["mean_median_rank"]
            ax.scatter([x - 0.35 + width * (k + 0.5)] * len(y), y, color=f"C{k}", s=40,
                       edgecolors="black", linewidths=0.5, label=family if x == 0 else None)
    ax.set_xticks(range(len(cells)), [f"{c}\n{f}" for c, f in cells])
    ax.set_ylabel("median rank (mean over prompts)")
    ax.invert_yaxis()
    ax.legend(title="family", fontsize=8)
    ax.grid(alpha=0.3)
    return encode(fig)


def values_section(result: ProbeResult) -> PageSection:
    m = result.manifest
    tables = [(title, result.tables[name]) for name, title in SECTIONS
              if name in result.tables and not result.tables[name].empty]
    plot = rank_plot(result.tables[files.MODEL_MEANS_FILE], m["family_order"])
    lead = (f"Models: {', '.join(m['families'])}. Lexicon: {m['lexicon']['source']}. "
            f"{len(m['prompts'])} prompts. Lower rank = preferred (rank 1 = best-scored word; ties "
            "share their average rank). Unit of analysis: the median rank per (model, category, prompt).")
    return PageSection(f"Value preferences ({m['scorer']})", lead,
                       [("Median rank by category, framing and family", plot)], tables,
                       number_format=".4g")
