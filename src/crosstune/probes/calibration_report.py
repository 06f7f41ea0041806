"""The probes' HTML page (one self-contained file) and the calibration figures.

The faithfulness probe's page uses the same template (`render_page`), so both look alike.
"""

from __future__ import annotations

import base64
import io
import warnings
from typing import TYPE_CHECKING, Any

import jinja2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from markupsafe import Markup

from crosstune.probes import calibration_targets as ct

if TYPE_CHECKING:
    from crosstune.probes.calibration import CalibrationResult

PAGE = jinja2.Environment(autoescape=True).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; font-size: 12px; margin: 0.5em 0 1.5em; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #f3f3f3; } .lead { background: #eef5ff; padding: 1em; border-radius: 6px; }
img { max-width: 100%; } .notes { color: #a33; }
</style></head><body>
<h1>{{ title }}</h1>
<p class="lead">{{ lead }}</p>
{% if notes %}<ul class="notes">{% for n in notes %}<li>{{ n }}</li>{% endfor %}</ul>{% endif %}
<p>Settings: {{ settings }}</p>
{% for heading, image in figures %}
<h2>{{ heading }}</h2><img alt="{{ heading }}" class="plot" src="data:image/png;base64,{{ image }}">
{% endfor %}
{% for heading, html in tables %}<h2>{{ heading }}</h2>{{ html }}{% endfor %}
</body></html>""")


def encode(fig: Any) -> str:
    """A figure as base64 PNG, so the page needs no other file."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def html_table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0, classes="table")


def render_page(title: str, lead: str, settings: dict[str, Any], figures: list[tuple[str, str]],
                tables: list[tuple[str, pd.DataFrame]], notes: list[str] | None = None) -> str:
    return PAGE.render(title=title, lead=lead, settings=settings, figures=figures, notes=notes or [],
                       tables=[(h, Markup(html_table(t))) for h, t in tables])


def _grid(n: int) -> tuple[Any, list[Any]]:
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.8 * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.axis("off")
    return fig, flat[:n]


def reliability_diagram(answers: pd.DataFrame, reliability: pd.DataFrame) -> str:
    """Per model: equal-width bins (bars: accuracy, width: bin) and relplot's smoothed curve."""
    import relplot

    models = list(dict.fromkeys(answers.model))
    fig, axes = _grid(len(models))
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


def _calibration_page(result: CalibrationResult) -> str:
    t = result.tables
    m = result.manifest
    figures = [("Reliability diagram", reliability_diagram(t[ct.ANSWERS_PARQUET], t[ct.RELIABILITY_CSV])),
               ("Selective accuracy against coverage", selective_plot(t[ct.SELECTIVE_CSV]))]
    tables = [("Metrics (value [95% CI])", _wide(t[ct.METRICS_CSV]))]
    if not t[ct.DIFFERENCES_CSV].empty:
        tables.append(("Finetuned minus untuned backbone (paired)", t[ct.DIFFERENCES_CSV]))
    tables.append(("Models", t[ct.MODELS_CSV]))
    orders = ("averaged over the listed and reversed choice order" if m["config"]["both_orders"]
              else "in the listed order only")
    lead = (f"{m['n_questions']} known-answer questions; option probabilities {orders}. "
            f"ECE is top-label with {m['config']['bins']} equal-width and equal-mass bins, plus relplot's "
            "SmoothECE; Brier is multi-class (0 to 2). CIs: " + m["ci"] + ".")
    return render_page("crosstune: calibration probe", lead, m["config"], figures, tables)


def calibration_page(result: CalibrationResult) -> str:
    """The page; model names in figures are text, not mathtext (a name with `$` must not break it)."""
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False}):
        return _calibration_page(result)
