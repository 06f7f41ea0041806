"""The analysis folder: every table as CSV, everything together as analysis.json, and the HTML
report, written whole; `run_analysis` is `crosstune analyze` as one call. It sits in report/, above
the analysis, so the analysis never calls up into the page that shows it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from crosstune.analysis.attribute import Analysis, analyze
from crosstune.analysis.inputs import load_matrix
from crosstune.analysis.matrix import Impute, Orient
from crosstune.choices import MetricName
from crosstune.errors import CrosstuneError
from crosstune.provenance import provenance
from crosstune.report.html import render_report
from crosstune.report.run_sections import position_masses, position_table, run_sections
from crosstune.scores.metrics import neutral_band
from crosstune.store import MANIFEST, POSITION_TABLE, REPORT, claim, staged, write_csv, write_json


def write_analysis(a: Analysis, folder: Path, cis: dict[str, pd.DataFrame] | None = None,
                   html: bool = True, run: Path | None = None) -> None:
    """Every table as CSV, everything together as analysis.json, the report; written whole.

    `run`: the cross-tuning run folder analysed, whose own files (position preference, format-only
    arms, bias transfer) add report sections and the per-model position table."""
    claim(folder, "crosstune-analysis")
    with staged(folder) as staging:
        for name, table in a.tables.items():
            write_csv(staging / f"{name}.csv", table)
        write_json(staging / "analysis.json", {
            "settings": a.settings, "verdict": a.verdict, "notes": a.notes,
            "pca_explained_variance": a.pca_explained, "backbone_vs_instruction": a.backbone_test or {},
            "tables": {k: json.loads(v.to_json(orient="records")) for k, v in a.tables.items()},
        })
        masses = position_masses(run) if run is not None else None
        if masses is not None:
            write_csv(staging / POSITION_TABLE, position_table(masses))
        if html:
            render_report(a, staging / REPORT, cis, run_sections(run) if run is not None else ())
        write_json(staging / MANIFEST, {"kind": "crosstune-analysis", "settings": a.settings,
                                        "provenance": provenance()})


MAX_PERMUTATIONS = 1_000_000
"""Beyond this, a p-value's Monte Carlo error is far below anything the verdict's words resolve."""


def run_analysis(inputs: list[Path], out: Path, *, labels: Path | None = None,
                 rules: list[str] | None = None, exclude: tuple[str, ...] = (),
                 orient: Orient = "auto", impute: Impute = "none", references: list[str] | None = None,
                 permutations: int = 999, standardize: bool = False, seed: int = 0,
                 metric: MetricName = "expected", band: float | None = None, html: bool = True,
                 min_effect: float | None = None, keep_unlearned: bool = False,
                 drop: tuple[str, ...] = ()) -> Analysis:
    """`crosstune analyze` as one call: the output folder is checked before any work. The neutral
    band and the minimum effect default to the metric's neutral band."""
    band = neutral_band(metric) if band is None else band
    min_effect = neutral_band(metric) if min_effect is None else min_effect
    if permutations < 1:
        raise CrosstuneError(f"--permutations must be at least 1, got {permutations}")
    if permutations > MAX_PERMUTATIONS:
        raise CrosstuneError(f"--permutations {permutations} would run for hours (each p-value relabels "
                             f"every model that many times); use at most {MAX_PERMUTATIONS}")
    if not 0 <= min_effect < float("inf"):
        raise CrosstuneError(f"--min-effect must be a finite number >= 0, got {min_effect}")
    claim(out, "crosstune-analysis")
    loaded = load_matrix(inputs, labels, rules, exclude, orient, impute, references, keep_unlearned, drop)
    result = analyze(loaded.matrix, permutations, standardize, seed, loaded.references, band,
                     loaded.pairs, min_effect,
                     "untuned backbone" if loaded.run is not None else "reference model", loaded.content)
    write_analysis(result, out, loaded.cis, html, loaded.run)
    return result
