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
    drop_excluded,
    drop_models,
    labels_from_rules,
    labels_from_table,
    match_names,
    numeric_scores,
    read_csv,
    read_run_folders,
    read_scores_table,
)
from crosstune.analysis.origins import PairScores, read_pair_table
from crosstune.errors import CrosstuneError
from crosstune.experiment.run_folder import UNTUNED, RunFolder, is_run_folder
from crosstune.scores.content import content_table
from crosstune.store import BIAS_COLUMN, BIASES, CI_COLUMNS, LABELS, SCORES


@dataclass
class Loaded:
    matrix: BiasMatrix
    cis: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Per-model CI tables, when the inputs are eval run folders."""
    references: dict[str, pd.Series] = field(default_factory=dict)
    """backbone -> reference bias vector."""
    run: Path | None = None
    """The cross-tuning run folder the matrix came from, whose own files the report shows."""
    pairs: PairScores | None = None
    """Every model's per-pair scores (evaluation and run folders): the origin calls' noise."""
    content: pd.DataFrame | None = None
    """models x biases: the share of pairs each model answers by content, not letter position
    (evaluation and run folders; references and untuned backbones included)."""


def _split_references(scores: pd.DataFrame, references: list[str]
                      ) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Pull 'BACKBONE=MODEL' reference rows out of the scores (they need no labels)."""
    found: dict[str, pd.Series] = {}
    for item in references:
        backbone, sep, name = item.partition("=")
        matched, _ = match_names([name], list(map(str, scores.index)))
        model = matched[0] if len(matched) == 1 else None
        if not sep or not backbone or model is None:
            raise CrosstuneError(f"--reference {item!r}: expected BACKBONE=MODEL with MODEL one of "
                                 f"the scored models ({', '.join(map(str, scores.index[:8]))}, ...)")
        if backbone in found:
            raise CrosstuneError(f"--reference gives backbone {backbone!r} twice; give one reference each")
        found[backbone] = scores.loc[model].rename(model)
    keep = [m for m in scores.index if m not in {s.name for s in found.values()}]
    return scores.loc[keep], found


def load_matrix(inputs: list[Path], labels: Path | None = None, rules: list[str] | None = None,
                exclude: tuple[str, ...] = (), orient: Orient = "auto", impute: Impute = "none",
                references: list[str] | None = None, keep_unlearned: bool = False,
                drop: tuple[str, ...] = ()) -> Loaded:
    """The matrix, references, and per-model CI tables (eval run folders only).

    `keep_unlearned`: a run folder's finetunes that failed the quality check are analysed too;
    `drop`: models left out (names matched case-insensitively), e.g. released models in no cell."""
    cis: dict[str, pd.DataFrame] = {}
    runs = [p for p in inputs if is_run_folder(p)]
    if runs and (labels is not None or rules or len(inputs) > 1):
        raise CrosstuneError(f"{runs[0]} is a cross-tuning run folder: its models are labelled by its own "
                             f"{LABELS}, so it is analysed alone and without --labels or --rule; to label "
                             f"its models yourself, give {runs[0] / SCORES} instead")
    if runs:
        matrix, untuned = cross_run(inputs[0], exclude, keep_unlearned, impute)
        folders = RunFolder(inputs[0]).eval_folders()
        pairs = _pairs_of(list(matrix.scores.index), folders)
        return Loaded(matrix, references=untuned, run=inputs[0], pairs=pairs,
                      content=content_table(folders) if folders else None)
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        raise CrosstuneError(f"input(s) not found: {missing}")
    if not inputs:
        raise CrosstuneError("no input: give a scores CSV or crosstune run folders")
    folders: dict[str, Path] = {}
    if len(inputs) == 1 and inputs[0].is_file():
        scores = read_scores_table(inputs[0], orient, exclude)
    else:
        scores = drop_excluded(read_run_folders(inputs), exclude, "the run folders")
        folders = dict(zip(scores.index, inputs, strict=True))
        for model, folder in zip(scores.index, inputs, strict=True):
            table = read_csv(folder / BIASES, "run results").set_index(BIAS_COLUMN)
            if set(CI_COLUMNS) <= set(table.columns):
                cis[model] = table[list(CI_COLUMNS)]
    if labels is None and not rules:
        raise CrosstuneError("give factor labels: --labels FILE (CSV or TOML) or --rule factor=REGEX")
    scores = drop_models(scores, drop, "the scores")
    scores, found = _split_references(scores, references or [])
    factors = labels_from_table(labels) if labels else labels_from_rules(list(scores.index), rules or [])
    matrix = assemble(scores, factors, impute)
    if drop:
        matrix.notes.append(f"left out (--drop): {list(drop)}")
    return Loaded(matrix, cis, found, pairs=_pairs_of(list(matrix.scores.index), folders),
                  content=content_table(folders) if folders else None)


def _pairs_of(models: list[str], folders: dict[str, Path]) -> PairScores | None:
    """The analysed models' per-pair scores, restricted to the analysed biases; None unless every
    model has an evaluation folder with them."""
    if not models or any(m not in folders for m in models):
        return None
    return read_pair_table({m: folders[m] for m in models})


def cross_run(run_dir: Path, exclude: tuple[str, ...] = (), keep_unlearned: bool = False,
              impute: Impute = "none") -> tuple[BiasMatrix, dict[str, pd.Series]]:
    """The finetuned models of a `crosstune run` folder that passed the quality check (all of
    them with `keep_unlearned`), and each backbone's untuned scores as its reference.
    """
    for name in (SCORES, LABELS):
        if not (run_dir / name).exists():
            raise CrosstuneError(f"{run_dir} has no {name}: finish it with 'crosstune run' first")
    scores = read_csv(run_dir / SCORES, "run scores", index_col=0)
    scores = drop_excluded(scores.set_axis(scores.index.map(str)), exclude, str(run_dir))
    scores = numeric_scores(scores, run_dir / SCORES)
    labels = RunFolder(run_dir).labels()  # the one reader of labels.csv
    if labels is None:
        raise CrosstuneError(f"{run_dir / LABELS} lacks backbone/instruction/seed/learned columns: "
                             "rerun 'crosstune run' to rewrite it")
    unscored = sorted(set(labels.index) - set(scores.index))
    if unscored:
        raise CrosstuneError(f"{run_dir}: {LABELS} lists model(s) that {SCORES} lacks: {unscored}; "
                             "rerun 'crosstune run' to finish it")
    tuned = labels[labels.instruction != UNTUNED]
    usable = tuned if keep_unlearned else tuned[tuned.learned == "True"]
    if usable.empty:
        raise CrosstuneError(f"{run_dir}: no finetuned model passed the quality check, nothing to analyse")
    matrix = assemble(scores.loc[usable.index], usable[["backbone", "instruction", "seed"]], impute)
    left_out = sorted(set(tuned.index) - set(usable.index))
    unlearned = sorted(tuned.index[tuned.learned != "True"])
    if keep_unlearned and unlearned:
        matrix.notes.append(f"analysed although they failed the quality check (--keep-unlearned): "
                            f"{unlearned}")
    if left_out:
        matrix.notes.append(f"left out, failed the quality check (did not learn): {left_out}")
    untuned = labels[labels.instruction == UNTUNED]
    matrix.notes.append(f"untuned backbones are references, not analysed: {sorted(untuned.index)}")
    return matrix, {row.backbone: scores.loc[model].rename(model) for model, row in untuned.iterrows()}
