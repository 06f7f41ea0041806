"""The bias matrix (models x biases) with factor labels, read from run folders or score tables."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from crosstune.choices import Impute, Orient
from crosstune.errors import CrosstuneError
from crosstune.experiment.run_folder import eval_model_name
from crosstune.store import (
    BIAS_COLUMN,
    BIASES,
    MANIFEST,
    SCORE_COLUMN,
    OtherKind,
    kind_name,
    read_eval_manifest,
)
from crosstune.user_tables import read_csv


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
    raw = read_csv(path, "scores table", index_col=0)
    if raw.index.isna().any() or (raw.index.astype(str).str.strip() == "").any():
        raise CrosstuneError(f"{path}: a row has no name in the first column; name every row")
    if raw.index.has_duplicates:
        dup = sorted(set(map(str, raw.index[raw.index.duplicated()])))
        raise CrosstuneError(f"{path}: duplicated row name(s): {dup}; each must be unique")
    if raw.shape[1] == 0:
        raise CrosstuneError(f"scores table {path} has names but no score columns")
    if orient == "auto":
        orient = _detect_orientation(raw)
    table = raw.T if orient == "biases-as-rows" else raw
    table.index = table.index.map(str)
    table.columns = table.columns.map(str)
    return numeric_scores(drop_excluded(table, exclude, str(path)), path)


def _key(name: object) -> str:
    """A row or model name compared case- and spacing-insensitively."""
    return re.sub(r"[\s_\-]+", " ", str(name)).strip().lower()


def match_names(wanted: tuple[str, ...] | list[str], names: list[str]) -> tuple[list[str], list[str]]:
    """(names matched, wanted ones that match none), case and spacing ignored."""
    by_key: dict[str, list[str]] = {}
    for name in names:
        by_key.setdefault(_key(name), []).append(name)
    found = [n for w in wanted for n in by_key.get(_key(w), [])]
    return list(dict.fromkeys(found)), [w for w in wanted if _key(w) not in by_key]


def drop_excluded(table: pd.DataFrame, exclude: tuple[str, ...], source: str) -> pd.DataFrame:
    """Drop --exclude rows (names matched case- and spacing-insensitively: `mmlu` drops `MMLU`);
    an unknown name or excluding every bias is an error."""
    found, missing = match_names(exclude, list(map(str, table.columns)))
    if missing:
        raise CrosstuneError(f"--exclude names {missing}, which are not biases in {source} "
                             f"(rows: {', '.join(map(str, table.columns[:12]))}, ...)")
    table = table.drop(columns=found)
    if table.shape[1] == 0:
        raise CrosstuneError(f"--exclude leaves no bias to analyse in {source}")
    return table


def drop_models(table: pd.DataFrame, drop: tuple[str, ...], source: str) -> pd.DataFrame:
    """Leave --drop models out (names matched case- and spacing-insensitively)."""
    found, missing = match_names(drop, list(map(str, table.index)))
    if missing:
        raise CrosstuneError(f"--drop names {missing}, which are not models in {source} "
                             f"(models: {', '.join(map(str, table.index[:12]))}, ...)")
    return table.drop(index=found)


def _detect_orientation(raw: pd.DataFrame) -> Orient:
    from crosstune.suite.registry import all_biases

    known = {b.name for b in all_biases()} | {b.title.lower() for b in all_biases()}
    in_rows = sum(str(i).lower() in known for i in raw.index)
    in_cols = sum(str(c).lower() in known for c in raw.columns)
    if in_rows == in_cols:
        # no recognisable names: assume the documented layout (biases in the first column)
        return "biases-as-rows" if len(raw.index) >= len(raw.columns) else "models-as-rows"
    return "biases-as-rows" if in_rows > in_cols else "models-as-rows"


def numeric_scores(table: pd.DataFrame, source: Path | str) -> pd.DataFrame:
    """Every cell a finite float, or an error naming the first cell that is not."""
    converted = table.apply(pd.to_numeric, errors="coerce")
    bad = converted.isna() & table.notna()
    if bad.to_numpy().any():
        model, bias = next((m, b) for m in table.index for b in table.columns if bad.loc[m, b])
        raise CrosstuneError(
            f"{source}: non-numeric score {table.loc[model, bias]!r} for model {model!r}, bias {bias!r}"
        )
    converted = converted.astype(float)
    infinite = np.isinf(converted.to_numpy())
    if infinite.any():
        row, col = np.argwhere(infinite)[0]
        raise CrosstuneError(f"{source}: infinite score for model {table.index[row]!r}, "
                             f"bias {table.columns[col]!r}; scores must be finite")
    return converted


def read_run_folders(folders: list[Path]) -> pd.DataFrame:
    """Headline scores of `crosstune eval` run folders, one row per run (named by its model)."""
    rows = {}
    for folder in folders:
        if not (folder / MANIFEST).is_file():
            raise CrosstuneError(f"{folder} is not a crosstune run folder (no {MANIFEST})")
        try:
            manifest = read_eval_manifest(folder)
        except OtherKind as other:
            raise CrosstuneError(f"{folder} is {kind_name(other.kind)} folder; analyze takes evaluation "
                                 "folders ('crosstune eval') or one cross-tuning run folder") from None
        except CrosstuneError:
            manifest = None  # not JSON, or not a manifest's shape
        if manifest is None or manifest.model.name is None:
            raise CrosstuneError(f"{folder / MANIFEST} is corrupt (no model name): rerun 'crosstune eval' "
                                 "for that folder")
        name = eval_model_name(manifest.model.name, manifest.model.adapter)
        if name in rows:
            raise CrosstuneError(f"model {name!r} appears in more than one run folder")
        biases = read_csv(folder / BIASES, "run results")
        if not {BIAS_COLUMN, SCORE_COLUMN} <= set(biases.columns):
            raise CrosstuneError(f"{folder / BIASES} lacks the {BIAS_COLUMN}/{SCORE_COLUMN} columns: "
                                 "rerun 'crosstune eval'")
        rows[name] = biases.set_index(BIAS_COLUMN)[SCORE_COLUMN]
    return numeric_scores(pd.DataFrame(rows).T, "the run folders")


def labels_from_table(path: Path, factors: tuple[str, ...] = ("backbone", "instruction")) -> pd.DataFrame:
    """Factor labels from CSV (first column: model) or TOML ([models.NAME] tables of strings);
    at least one of `factors` must be among the columns."""
    if path.suffix == ".toml":
        frame = _labels_from_toml(path)
    else:
        frame = read_csv(path, "labels file", index_col=0, dtype=str, keep_default_na=False)
    if frame.index.has_duplicates:
        raise CrosstuneError(f"{path}: model(s) labelled twice: "
                             f"{sorted(set(frame.index[frame.index.duplicated()]))}")
    if not set(factors) & set(frame.columns):
        raise CrosstuneError(f"{path} names no {' or '.join(factors)} factor (columns: "
                             f"{list(map(str, frame.columns))}); label each model's {' and '.join(factors)}")
    frame.index = frame.index.map(str)
    return frame.fillna("").astype(str)


def _labels_from_toml(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise CrosstuneError(f"labels file {path} not found (or not a file)")
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8-sig"))  # a BOM is no key
    except UnicodeDecodeError:
        raise CrosstuneError(f"labels file {path} is not UTF-8 text (binary file?): "
                             "give a TOML file") from None
    except tomllib.TOMLDecodeError as err:
        raise CrosstuneError(f"labels file {path} is not valid TOML ({err})") from None
    models = data.get("models")
    if not isinstance(models, dict) or not models:
        raise CrosstuneError(f"labels file {path} has no [models.NAME] tables; write one per model, "
                             'e.g. [models."olmo-tulu-s0"] backbone = "olmo"')
    for name, labels in models.items():
        if not isinstance(labels, dict):
            raise CrosstuneError(f"{path}: models.{name} must be a table of factor = \"label\"")
        for factor, value in labels.items():
            if not isinstance(value, str):
                raise CrosstuneError(f"{path}: models.{name}.{factor} is {type(value).__name__} "
                                     f"{value!r}; labels are strings, write {factor} = \"{value}\"")
    return pd.DataFrame.from_dict(models, orient="index")


def labels_from_rules(models: list[str], rules: list[str]) -> pd.DataFrame:
    """Rules 'factor=REGEX', matched case-insensitively: the first capture group (or whole match),
    lower-cased, is the label (`backbone=^(olmo|t5)` labels 'OLMo-7B' and 'olmo-2' alike 'olmo').

    A model the seed rule does not match gets an empty seed (a released model, not a seed);
    the other rules must match every model (leave a released model out with --drop, or give it as
    a --reference).
    """
    columns: dict[str, dict[str, str]] = {}
    for rule in rules:
        factor, sep, pattern = rule.partition("=")
        if not sep or not factor or not pattern:
            raise CrosstuneError(f"label rule {rule!r} must look like factor=REGEX")
        if factor in columns:
            raise CrosstuneError(f"label rule for {factor!r} given twice; give one rule per factor")
        try:
            regex = re.compile(pattern, re.IGNORECASE)
        except re.error as err:
            raise CrosstuneError(f"label rule {rule!r}: invalid regular expression ({err})") from None
        columns[factor] = {}
        for model in models:
            match = regex.search(model)
            if match is None and factor == "seed":
                columns[factor][model] = ""
                continue
            if match is None:
                raise CrosstuneError(f"label rule {rule!r} matches no part of model name {model!r}; "
                                     "leave it out with --drop, or give it as a --reference")
            label = match.group(1) if regex.groups else match.group(0)
            columns[factor][model] = (label or "").lower()
    return pd.DataFrame(columns)


def assemble(scores: pd.DataFrame, factors: pd.DataFrame, impute: Impute = "none") -> BiasMatrix:
    """Join scores and labels, refusing unlabelled models; missing scores handled as asked."""
    unlabelled = [m for m in scores.index if m not in factors.index]
    if unlabelled:
        raise CrosstuneError(f"model(s) without factor labels: {unlabelled}")
    factors = factors.loc[scores.index].fillna("").astype(str)
    for factor in factors.columns:
        if factor != "seed" and (factors[factor].str.strip() == "").any():
            empty = list(factors.index[factors[factor].str.strip() == ""])
            raise CrosstuneError(f"model(s) with an empty {factor} label: {empty}; "
                                 "only the seed may be empty")
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
            if scores.shape[1] == 0:
                raise CrosstuneError("--impute drop leaves no bias: every bias misses a score; "
                                     "use --impute bias-mean or zero")
            notes.append(f"dropped biases with missing scores: {dropped}")
        else:
            fill = scores.mean() if impute == "bias-mean" else 0.0
            scores = scores.fillna(fill)
            notes.append(f"imputed {len(cells)} missing score(s) with {impute}: {described}")
    return BiasMatrix(scores, factors, notes)
