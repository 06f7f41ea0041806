"""The bias matrix (models x biases) with factor labels, read from run folders or score tables."""

from __future__ import annotations

import csv
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from crosstune.errors import CrosstuneError

Orient = Literal["auto", "biases-as-rows", "models-as-rows"]
Impute = Literal["none", "drop", "bias-mean", "zero"]


@dataclass
class BiasMatrix:
    """Scores (index: model, columns: bias) and factor labels (index: model)."""

    scores: pd.DataFrame
    factors: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def values(self, standardize: bool = False) -> np.ndarray:
        x = self.scores.to_numpy(dtype=float)
        if standardize:
            sd = x.std(axis=0, ddof=0)
            x = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        return x


def read_scores_table(path: Path, orient: Orient = "auto", exclude: tuple[str, ...] = ()
                      ) -> pd.DataFrame:
    """A wide CSV: first column names biases, other columns models (or the transpose)."""
    if not path.exists():
        raise CrosstuneError(f"scores table {path} not found")
    with path.open(newline="") as handle:
        header = next(csv.reader(handle), [])[1:]
    raw = pd.read_csv(path, index_col=0)
    dup = [*raw.index[raw.index.duplicated()], *{h for h in header if header.count(h) > 1}]
    if dup:
        raise CrosstuneError(f"{path}: duplicated row or column name(s): {sorted(set(map(str, dup)))}")
    if orient == "auto":
        orient = _detect_orientation(raw)
    table = raw.T if orient == "biases-as-rows" else raw
    table.index = table.index.map(str)
    table.columns = table.columns.map(str)
    missing = [e for e in exclude if e not in table.columns]
    if missing:
        raise CrosstuneError(f"--exclude names {missing}, which are not biases in {path}")
    table = table.drop(columns=list(exclude))
    return _numeric(table, path)


def _detect_orientation(raw: pd.DataFrame) -> Orient:
    from crosstune.suite.registry import all_biases

    known = {b.name for b in all_biases()} | {b.title.lower() for b in all_biases()}
    in_rows = sum(str(i).lower() in known for i in raw.index)
    in_cols = sum(str(c).lower() in known for c in raw.columns)
    if in_rows == in_cols:
        # no recognisable names: assume the documented layout (biases in the first column)
        return "biases-as-rows" if len(raw.index) >= len(raw.columns) else "models-as-rows"
    return "biases-as-rows" if in_rows > in_cols else "models-as-rows"


def _numeric(table: pd.DataFrame, source: Path) -> pd.DataFrame:
    converted = table.apply(pd.to_numeric, errors="coerce")
    bad = converted.isna() & table.notna()
    if bad.to_numpy().any():
        model, bias = next((m, b) for m in table.index for b in table.columns if bad.loc[m, b])
        raise CrosstuneError(
            f"{source}: non-numeric score {table.loc[model, bias]!r} for model {model!r}, bias {bias!r}"
        )
    return converted.astype(float)


def read_run_folders(folders: list[Path]) -> pd.DataFrame:
    """Headline scores of `crosstune eval` run folders, one row per run (named by its model)."""
    rows = {}
    for folder in folders:
        manifest_path = folder / "manifest.json"
        if not manifest_path.exists():
            raise CrosstuneError(f"{folder} is not a crosstune run folder (no manifest.json)")
        manifest = json.loads(manifest_path.read_text())
        name = manifest["model"]["name"] + (f"+{Path(manifest['model']['adapter']).name}"
                                            if manifest["model"].get("adapter") else "")
        if name in rows:
            raise CrosstuneError(f"model {name!r} appears in more than one run folder")
        rows[name] = pd.read_csv(folder / "biases.csv").set_index("bias")["score"]
    return pd.DataFrame(rows).T


def labels_from_table(path: Path) -> pd.DataFrame:
    """Factor labels from CSV (first column: model) or TOML ([models.NAME] tables)."""
    if not path.exists():
        raise CrosstuneError(f"labels file {path} not found")
    if path.suffix == ".toml":
        data = tomllib.loads(path.read_text()).get("models", {})
        frame = pd.DataFrame.from_dict(data, orient="index")
    else:
        frame = pd.read_csv(path, index_col=0, dtype=str)
    if frame.index.has_duplicates:
        raise CrosstuneError(f"{path}: model(s) labelled twice: "
                             f"{sorted(set(frame.index[frame.index.duplicated()]))}")
    frame.index = frame.index.map(str)
    return frame.astype(str)


def labels_from_rules(models: list[str], rules: list[str]) -> pd.DataFrame:
    """Rules 'factor=REGEX': the first capture group (or whole match) is the label."""
    columns: dict[str, dict[str, str]] = {}
    for rule in rules:
        factor, sep, pattern = rule.partition("=")
        if not sep or not factor:
            raise CrosstuneError(f"label rule {rule!r} must look like factor=REGEX")
        regex = re.compile(pattern)
        for model in models:
            match = regex.search(model)
            if match is None:
                raise CrosstuneError(f"label rule {rule!r} matches no part of model name {model!r}")
            columns.setdefault(factor, {})[model] = match.group(1) if regex.groups else match.group(0)
    return pd.DataFrame(columns)


def assemble(scores: pd.DataFrame, factors: pd.DataFrame, impute: Impute = "none") -> BiasMatrix:
    """Join scores and labels, refusing unlabelled models; missing scores handled as asked."""
    unlabelled = [m for m in scores.index if m not in factors.index]
    if unlabelled:
        raise CrosstuneError(f"model(s) without factor labels: {unlabelled}")
    notes = []
    missing = scores.isna()
    if missing.to_numpy().any():
        cells = [(m, b) for m in scores.index for b in scores.columns if missing.loc[m, b]]
        described = ", ".join(f"{m}/{b}" for m, b in cells[:10])
        if impute == "none":
            raise CrosstuneError(
                f"{len(cells)} missing score(s) ({described}); choose --impute drop, bias-mean or zero"
            )
        if impute == "drop":
            dropped = list(scores.columns[missing.any()])
            scores = scores.drop(columns=dropped)
            notes.append(f"dropped biases with missing scores: {dropped}")
        else:
            fill = scores.mean() if impute == "bias-mean" else 0.0
            scores = scores.fillna(fill)
            notes.append(f"imputed {len(cells)} missing score(s) with {impute}: {described}")
    return BiasMatrix(scores, factors.loc[scores.index], notes)
