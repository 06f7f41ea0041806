"""The look every crosstune page shares, the analysis report and the probes' pages alike: the CSS,
figures inlined as PNG, and tables with every cell escaped."""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from markupsafe import Markup

STYLE = """<style>
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; font-size: 12px; margin: 0.5em 0 1.5em; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #f3f3f3; } .verdict, .lead { background: #eef5ff; padding: 1em; border-radius: 6px; }
img { max-width: 100%; } .notes { color: #a33; }
</style>"""


def encode(fig: Any) -> str:
    """A figure as base64 PNG, so the page needs no other file."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def html_table(frame: pd.DataFrame, number_format: str = ".3f") -> Markup:
    """A table with every cell and header escaped (names come from users); Markup keeps the
    template from escaping it twice."""
    return Markup(frame.to_html(index=False, float_format=lambda v: f"{v:{number_format}}", border=0,
                                classes="table", escape=True))
