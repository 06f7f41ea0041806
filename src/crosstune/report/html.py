"""One self-contained HTML file: verdict, plots, and every table; every user string escaped."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import jinja2
import matplotlib
import pandas as pd

from crosstune.analysis.attribute import Analysis, settings_lines
from crosstune.errors import page_text
from crosstune.report import plots
from crosstune.report.run_sections import Section
from crosstune.report.style import STYLE, html_table
from crosstune.store import write_text

TEMPLATE = jinja2.Environment(autoescape=True, finalize=page_text).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>crosstune report</title>
""" + STYLE + """</head><body>
<h1>crosstune: where do the biases come from?</h1>
<p class="verdict" id="verdict">{{ verdict }}</p>
{% if notes %}<ul class="notes">{% for n in notes %}<li>{{ n }}</li>{% endfor %}</ul>{% endif %}
<h2>Settings</h2>
<ul class="settings">{% for line in settings %}<li>{{ line }}</li>{% endfor %}</ul>
{% for title, image in figures %}
<h2>{{ title }}</h2><img alt="{{ title }}" class="plot" src="data:image/png;base64,{{ image }}">
{% endfor %}
{% for title, html in tables %}<h2>{{ title }}</h2>{{ html }}{% endfor %}
{% for s in sections %}<section class="run-section"><h2>{{ s.title }}</h2><p>{{ s.note }}</p>
{% if s.figure %}<img alt="{{ s.title }}" class="plot" src="data:image/png;base64,{{ s.figure }}">{% endif %}
{% for caption, html in s.tables %}<h3>{{ caption }}</h3>{{ html }}{% endfor %}</section>
{% endfor %}
</body></html>""")


def render_report(a: Analysis, path: Path, cis: dict[str, pd.DataFrame] | None = None,
                  sections: Sequence[Section] = ()) -> None:
    """Write the report; `cis` maps model -> per-bias CI table (from run folders) when known,
    `sections` are the run folder's own sections (run_sections), shown after the analysis."""
    # names are text, not mathtext: a model called "a$b" must not break a figure
    with matplotlib.rc_context({"text.parse_math": False}):
        figures = [("Bias vectors in PCA space", plots.pca_scatter(a.tables["pca"], a.pca_explained)),
                   ("Cosine similarity of bias vectors", plots.similarity_heatmap(a.tables["similarity"])),
                   ("Per-bias scores", plots.bias_scores(a.tables["scores"], cis))]
        if "seed_sd" in a.tables and not a.tables["seed_sd"].empty:
            figures.append(("Seed spread", plots.seed_spread(a.tables["seed_sd"])))
        if "origins" in a.tables:
            figures.append(("Origin of each bias (shares with 95% CIs; on the right the call and the "
                            "smallest backbone (b) and instruction (i) effects the design detects, "
                            "80% power)",
                            plots.origin_shares(a.tables["origins"])))
        if "variance" in a.tables:
            figures.append(("Variance shares per bias", plots.variance_bars(a.tables["variance"])))
    order = ["origins", "movement", "clustering", "variance_aggregates", "variance", "seed_sd",
             "sign_agreement",
             "reference_agreement", "kmeans", "pca", "scores"]
    tables = [(name.replace("_", " ").capitalize(), html_table(a.tables[name]))
              for name in order if name in a.tables and not a.tables[name].empty]
    shown = [{"title": s.title, "note": s.note, "figure": s.figure,
              "tables": [(caption, html_table(frame)) for caption, frame in s.tables]} for s in sections]
    html = TEMPLATE.render(verdict=a.verdict, notes=a.notes, settings=settings_lines(a.settings),
                           figures=figures, tables=tables, sections=shown)
    write_text(path, html)
