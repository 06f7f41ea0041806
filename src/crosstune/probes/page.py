"""The page base every probe's report shares: one self-contained HTML file, autoescaped.

Model, file, question, category and family names come from users: the template autoescapes
every string, tables go through `to_html(escape=True)`, and figures are drawn with mathtext
off, so a `$` or `<b>` in a name is shown as typed.
"""

from __future__ import annotations

from typing import Any

import jinja2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from crosstune.errors import page_text
from crosstune.probes.interface import PageSection
from crosstune.report.style import STYLE, html_table

PAGE = jinja2.Environment(autoescape=True, finalize=page_text).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
""" + STYLE + """</head><body>
<h1>{{ title }}</h1>
<p class="lead">{{ lead }}</p>
{% if notes %}<ul class="notes">{% for n in notes %}<li>{{ n }}</li>{% endfor %}</ul>{% endif %}
{% if settings is not none %}<p>Settings: {{ settings }}</p>{% endif %}
{% for heading, image in figures %}
<h2>{{ heading }}</h2><img alt="{{ heading }}" class="plot" src="data:image/png;base64,{{ image }}">
{% endfor %}
{% for heading, html in tables %}<h2>{{ heading }}</h2>{{ html }}{% endfor %}
</body></html>""")


def grid(n: int, height: float) -> tuple[Any, list[Any]]:
    """A figure of n panels, three to a row (one per model); spare panels hidden."""
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, height * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.axis("off")
    return fig, flat[:n]


def render_page(section: PageSection, notes: list[str]) -> str:
    return PAGE.render(title=section.title, lead=section.lead, settings=section.settings,
                       figures=section.figures, notes=notes,
                       tables=[(h, html_table(t, section.number_format)) for h, t in section.tables])


def text_figures() -> Any:
    """A context in which figure text is text, not mathtext (a name with `$` must not break it)."""
    return matplotlib.rc_context({"text.parse_math": False})
