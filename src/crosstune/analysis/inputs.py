"""From what the user points at (a scores CSV or run folders, plus labels) to a BiasMatrix."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crosstune.analysis.matrix import (
    BiasMatrix,
    Impute,
    Orient,
    assemble,
    labels_from_rules,
    labels_from_table,
    read_run_folders,
    read_scores_table,
)
from crosstune.errors import CrosstuneError


def load_matrix(inputs: list[Path], labels: Path | None = None, rules: list[str] | None = None,
                exclude: tuple[str, ...] = (), orient: Orient = "auto", impute: Impute = "none"
                ) -> tuple[BiasMatrix, dict[str, pd.DataFrame]]:
    """The matrix, and per-model CI tables when the inputs are run folders."""
    cis: dict[str, pd.DataFrame] = {}
    if len(inputs) == 1 and inputs[0].is_file():
        scores = read_scores_table(inputs[0], orient, exclude)
    else:
        missing = [str(p) for p in inputs if not p.exists()]
        if missing:
            raise CrosstuneError(f"input(s) not found: {missing}")
        scores = read_run_folders(inputs).drop(columns=list(exclude))
        for model, folder in zip(scores.index, inputs, strict=True):
            cis[model] = pd.read_csv(folder / "biases.csv").set_index("bias")[["ci_low", "ci_high"]]
    if labels is None and not rules:
        raise CrosstuneError("give factor labels: --labels FILE (CSV or TOML) or --rule factor=REGEX")
    factors = labels_from_table(labels) if labels else labels_from_rules(list(scores.index), rules or [])
    return assemble(scores, factors, impute), cis
