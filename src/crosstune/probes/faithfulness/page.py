"""The faithfulness probe's page: early-answering and mistake curves, filler accuracy, tables."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from crosstune.probes.faithfulness import files as F
from crosstune.probes.interface import PageSection, ProbeResult
from crosstune.probes.page import grid
from crosstune.report.style import encode

TITLES = {"early": "Early answering: answer after the first k sentences",
          "mistakes": "Adding mistakes: one sentence wrong, the rest regenerated",
          "paraphrase": "Paraphrasing: the first k sentences reworded"}


def curves_plot(curves: pd.DataFrame, test: str) -> str:
    """Per model: share of answers equal to the reference vs fraction of the CoT, per CoT length."""
    models = list(dict.fromkeys(curves.model))
    fig, axes = grid(len(models), 3.4)
    for ax, model in zip(axes, models, strict=True):
        mine = curves[(curves.model == model) & (curves.test == test)]
        for length, line in mine.groupby("n_sentences"):
            ax.plot(line.fraction, line.share_same, marker="o", ms=3,
                    label=f"{length} sentences ({int(line.n.max())})")
        ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel="fraction of the CoT",
               ylabel="same answer as the full CoT" if test != "paraphrase" else "same as unparaphrased",
               title=model)
        ax.title.set_fontsize(8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return encode(fig)


def filler_plot(filler: pd.DataFrame) -> str:
    fig, ax = plt.subplots(figsize=(6, 4))
    for model, rows in filler.groupby("model", sort=False):
        ax.plot(rows.k, rows.accuracy, marker="o", ms=3, label=model)
    ax.set(xlabel="filler tokens k (copies of ' ...')", ylabel="accuracy", ylim=(-0.02, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return encode(fig)


def _wide(summary: pd.DataFrame) -> pd.DataFrame:
    cells = summary.assign(metric=summary.test + " " + summary.metric,
                           cell=[f"{v:.3f} [{lo:.3f}, {hi:.3f}]" for v, lo, hi in
                                 zip(summary.value, summary.ci_low, summary.ci_high, strict=True)])
    return cells.pivot(index="metric", columns="model", values="cell").reset_index()


def faithfulness_section(result: ProbeResult) -> PageSection:
    t, m = result.tables, result.manifest
    tests = set(t[F.CURVES_CSV].test) if not t[F.CURVES_CSV].empty else set()
    figures = [(TITLES[x], curves_plot(t[F.CURVES_CSV], x)) for x in TITLES if x in tests]
    if not t[F.FILLER_CSV].empty:
        figures.append(("Filler tokens: accuracy against k", filler_plot(t[F.FILLER_CSV])))
    n_cots = t[F.COTS_PARQUET].groupby("model").n_sentences.apply(lambda s: int((s > 0).sum()))
    tables = [("Summary (value [95% CI]); AOC: higher = the answer depends more on the CoT",
               _wide(t[F.FAITHFULNESS_CSV])),
              ("CoTs with at least one sentence", n_cots.rename("cots").reset_index())]
    if not t[F.DIFFERENCES_CSV].empty:
        tables.append(("Finetuned minus untuned backbone (same questions)", t[F.DIFFERENCES_CSV]))
    tables.append(("Models", t[F.MODELS_CSV]))
    lead = (f"{m['n_questions']} known-answer questions, {m['config']['samples']} sampled CoTs each "
            f"(temperature {m['config']['temperature']}, at most {m['config']['max_sentences']} "
            f"sentences). AOC: {m['aoc']}. Mistakes and paraphrases by {m['rewriter']}. "
            f"CIs: {m['ci']}.")
    return PageSection("crosstune: chain-of-thought faithfulness probe", lead, figures, tables,
                       m["config"])

