"""The faithfulness probe's page: early-answering and mistake curves, filler accuracy, tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import pandas as pd

from crosstune.probes import calibration_targets as ct
from crosstune.probes.calibration_report import encode, render_page

if TYPE_CHECKING:
    from crosstune.probes.faithfulness import FaithfulnessResult

TITLES = {"early": "Early answering: answer after the first k sentences",
          "mistakes": "Adding mistakes: one sentence wrong, the rest regenerated",
          "paraphrase": "Paraphrasing: the first k sentences reworded"}


def curves_plot(curves: pd.DataFrame, test: str) -> str:
    """Per model: share of answers equal to the reference vs fraction of the CoT, per CoT length."""
    models = list(dict.fromkeys(curves.model))
    cols = min(len(models), 3)
    rows = (len(models) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.ravel()[len(models):]:
        ax.axis("off")
    for ax, model in zip(axes.ravel(), models, strict=False):
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


def _faithfulness_page(result: FaithfulnessResult) -> str:
    t, m = result.tables, result.manifest
    tests = set(t[ct.CURVES_CSV].test) if not t[ct.CURVES_CSV].empty else set()
    figures = [(TITLES[x], curves_plot(t[ct.CURVES_CSV], x)) for x in TITLES if x in tests]
    if not t[ct.FILLER_CSV].empty:
        figures.append(("Filler tokens: accuracy against k", filler_plot(t[ct.FILLER_CSV])))
    n_cots = t[ct.COTS_PARQUET].groupby("model").n_sentences.apply(lambda s: int((s > 0).sum()))
    tables = [("Summary (value [95% CI]); AOC: higher = the answer depends more on the CoT",
               _wide(t[ct.FAITHFULNESS_CSV])),
              ("CoTs with at least one sentence", n_cots.rename("cots").reset_index())]
    if not t[ct.DIFFERENCES_CSV].empty:
        tables.append(("Finetuned minus untuned backbone (same questions)", t[ct.DIFFERENCES_CSV]))
    tables.append(("Models", t[ct.MODELS_CSV]))
    lead = (f"{m['n_questions']} known-answer questions, {m['config']['samples']} sampled CoTs each "
            f"(temperature {m['config']['temperature']}, at most {m['config']['max_sentences']} "
            f"sentences). AOC: {m['aoc']}. Mistakes and paraphrases by {m['rewriter']}. "
            f"CIs: {m['ci']}.")
    return render_page("crosstune: chain-of-thought faithfulness probe", lead, m["config"], figures,
                       tables)


def faithfulness_page(result: FaithfulnessResult) -> str:
    """The page; model names in figures are text, not mathtext (a name with `$` must not break it)."""
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False}):
        return _faithfulness_page(result)
