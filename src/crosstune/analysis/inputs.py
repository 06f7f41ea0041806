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
    if len(inputs) == 1 and (inputs[0] / "spec.json").exists() and labels is None and not rules:
        return matrix_from_cross_run(inputs[0], exclude), cis
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


def matrix_from_cross_run(run_dir: Path, exclude: tuple[str, ...] = ()) -> BiasMatrix:
    """The finetuned models of a `crosstune run` folder that passed the quality check."""
    for name in ("scores.csv", "labels.csv"):
        if not (run_dir / name).exists():
            raise CrosstuneError(f"{run_dir} has no {name}: finish it with 'crosstune run' first")
    scores = pd.read_csv(run_dir / "scores.csv", index_col="model").drop(columns=list(exclude))
    labels = pd.read_csv(run_dir / "labels.csv", index_col="model", dtype=str).fillna("")
    tuned = labels[labels.instruction != "untuned"]
    usable = tuned[tuned.learned == "True"]
    matrix = assemble(scores.loc[usable.index], usable[["backbone", "instruction", "seed"]])
    left_out = sorted(set(tuned.index) - set(usable.index))
    if left_out:
        matrix.notes.append(f"left out, failed the quality check (did not learn): {left_out}")
    matrix.notes.append(f"untuned backbones not analysed (reference only): "
                        f"{sorted(set(labels.index) - set(tuned.index))}")
    return matrix
