"""The calibration probe's page section: reliability diagram, selective accuracy, metric tables."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import pandas as pd

from crosstune.probes.calibration import files as F
from crosstune.probes.interface import PageSection, ProbeResult
from crosstune.probes.page import grid
from crosstune.report.style import encode


def reliability_diagram(answers: pd.DataFrame, reliability: pd.DataFrame) -> str:
    """Per model: equal-width bins (bars: accuracy, width: bin) and relplot's smoothed curve."""
    import relplot

    models = list(dict.fromkeys(answers.model))
    fig, axes = grid(len(models), 3.8)
    for ax, model in zip(axes, models, strict=True):
        bins = reliability[(reliability.model == model) & (reliability.scheme == "width")]
        n_bins = int(reliability.bin.max()) + 1
        ax.bar((bins.bin + 0.5) / n_bins, bins.accuracy, width=0.9 / n_bins, alpha=0.5,
               color="C0", label="accuracy per equal-width bin")
        ax.scatter(bins.confidence, bins.accuracy, s=8 + bins["count"], color="C0", zorder=3)
        mine = answers[answers.model == model]
        with warnings.catch_warnings():  # relplot 1.0.3 uses an API pandas 3 deprecates
            warnings.simplefilter("ignore")
            smooth = relplot.prepare_rel_diagram(mine.confidence.to_numpy(float),
                                                 mine.correct.to_numpy(float), num_bootstrap=50)
        seen = (smooth["mesh"] >= mine.confidence.min()) & (smooth["mesh"] <= mine.confidence.max())
        ax.plot(smooth["mesh"][seen], smooth["mu"][seen], color="C3", label="smoothed (relplot)")
        ax.fill_between(smooth["mesh"][seen], smooth["lower"][seen], smooth["upper"][seen], color="C3",
                        alpha=0.15)
        ax.plot([0, 1], [0, 1], "k--", lw=0.8)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (top label)", ylabel="accuracy",
               title=model)
        ax.title.set_fontsize(8)
    axes[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return encode(fig)


def selective_plot(selective: pd.DataFrame) -> str:
    fig, ax = plt.subplots(figsize=(6, 4))
    for model, rows in selective.groupby("model", sort=False):
        ax.plot(rows.coverage, rows.accuracy, label=model)
    ax.set(xlabel="coverage (most confident share answered)", ylabel="accuracy", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return encode(fig)


def _wide(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per model: value [ci_low, ci_high] per metric."""
    cells = metrics.assign(cell=[f"{v:.3f} [{lo:.3f}, {hi:.3f}]" for v, lo, hi in
                                 zip(metrics.value, metrics.ci_low, metrics.ci_high, strict=True)])
    return cells.pivot(index="model", columns="metric", values="cell").reset_index()


def calibration_section(result: ProbeResult) -> PageSection:
    t = result.tables
    m = result.manifest
    figures = [("Reliability diagram", reliability_diagram(t[F.ANSWERS_PARQUET], t[F.RELIABILITY_CSV])),
               ("Selective accuracy against coverage", selective_plot(t[F.SELECTIVE_CSV]))]
    tables = [("Metrics (value [95% CI])", _wide(t[F.METRICS_CSV]))]
    if not t[F.DIFFERENCES_CSV].empty:
        tables.append(("Finetuned minus untuned backbone (paired)", t[F.DIFFERENCES_CSV]))
    tables.append(("Models", t[F.MODELS_CSV]))
    orders = ("averaged over the listed and reversed choice order" if m["config"]["both_orders"]
              else "in the listed order only")
    lead = (f"{m['n_questions']} known-answer questions; option probabilities {orders}. "
            f"ECE is top-label with {m['config']['bins']} equal-width and equal-mass bins, plus relplot's "
            "SmoothECE; Brier is multi-class (0 to 2). CIs: " + m["ci"] + ".")
    return PageSection("crosstune: calibration probe", lead, figures, tables, m["config"])
