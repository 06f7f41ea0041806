"""The values probe's report: one self-contained HTML page with the rank plot and every table."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from markupsafe import Markup

from crosstune.probes.values import files
from crosstune.store import write_text

if TYPE_CHECKING:
    from crosstune.probes.values.probe import ValuesResult

# autoescaped: model, file, lexicon, category and prompt names come from users
TEMPLATE = jinja2.Environment(autoescape=True).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>crosstune: value preferences</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; font-size: 12px; margin: 0.5em 0 1.5em; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #f3f3f3; } img { max-width: 100%; } .notes { color: #a33; }
</style></head><body>
<h1>Value preferences ({{ kind }})</h1>
<p>Models: {{ models }}. Lexicon: {{ lexicon }}. {{ n_prompts }} prompts.
 Lower rank = preferred (rank 1 = best-scored word; ties share their average rank).
 Unit of analysis: the median rank per (model, category, prompt).</p>
{% if notes %}<ul class="notes">{% for n in notes %}<li>{{ n }}</li>{% endfor %}</ul>{% endif %}
<h2>Median rank by category, framing and family</h2>
<img alt="rank plot" class="plot" src="data:image/png;base64,{{ plot }}">
{% for title, html in tables %}<h2>{{ title }}</h2>{{ html }}{% endfor %}
</body></html>""")

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
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def render_values_report(result: ValuesResult, path: Path) -> None:
    """Write report.html for a values run."""
    families = result.manifest["family_order"]
    # to_html escapes every cell and header; Markup keeps the template from escaping it twice
    tables = [(title, Markup(result.tables[name].to_html(index=False, float_format=lambda v: f"{v:.4g}",
                                                          border=0, escape=True)))
              for name, title in SECTIONS if name in result.tables and not result.tables[name].empty]
    with matplotlib.rc_context({"text.parse_math": False}):  # names are text, not mathtext
        plot = rank_plot(result.tables[files.MODEL_MEANS_FILE], families)
    html = TEMPLATE.render(kind=result.kind, models=", ".join(result.manifest["families"]),
                           lexicon=result.manifest["lexicon"]["source"],
                           n_prompts=len(result.manifest["prompts"]), notes=result.notes,
                           plot=plot, tables=tables)
    write_text(path, html)
