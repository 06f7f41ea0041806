"""From what the user points at (a scores CSV or run folders, plus labels) to a BiasMatrix."""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass
class Loaded:
    matrix: BiasMatrix
    cis: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Per-model CI tables, when the inputs are eval run folders."""
    references: dict[str, pd.Series] = field(default_factory=dict)
    """backbone -> reference bias vector."""


def _split_references(scores: pd.DataFrame, references: list[str]
                      ) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Pull 'BACKBONE=MODEL' reference rows out of the scores (they need no labels)."""
    found = {}
    for item in references:
        backbone, sep, model = item.partition("=")
        if not sep or model not in scores.index:
            raise CrosstuneError(f"--reference {item!r}: expected BACKBONE=MODEL with MODEL one of "
                                 f"the scored models ({', '.join(map(str, scores.index[:8]))}, ...)")
        found[backbone] = scores.loc[model].rename(model)
    keep = [m for m in scores.index if m not in {s.name for s in found.values()}]
    return scores.loc[keep], found


def load_matrix(inputs: list[Path], labels: Path | None = None, rules: list[str] | None = None,
                exclude: tuple[str, ...] = (), orient: Orient = "auto", impute: Impute = "none",
                references: list[str] | None = None) -> Loaded:
    """The matrix, references, and per-model CI tables (eval run folders only)."""
    cis: dict[str, pd.DataFrame] = {}
    if len(inputs) == 1 and (inputs[0] / "spec.json").exists() and labels is None and not rules:
        matrix, untuned = cross_run(inputs[0], exclude)
        return Loaded(matrix, references=untuned)
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
    scores, found = _split_references(scores, references or [])
    factors = labels_from_table(labels) if labels else labels_from_rules(list(scores.index), rules or [])
    return Loaded(assemble(scores, factors, impute), cis, found)


def cross_run(run_dir: Path, exclude: tuple[str, ...] = ()) -> tuple[BiasMatrix, dict[str, pd.Series]]:
    """The finetuned models of a `crosstune run` folder that passed the quality check, and
    each backbone's untuned scores as its reference.
    """
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
    untuned = labels[labels.instruction == "untuned"]
    matrix.notes.append(f"untuned backbones are references, not analysed: {sorted(untuned.index)}")
    return matrix, {row.backbone: scores.loc[model].rename(model) for model, row in untuned.iterrows()}
