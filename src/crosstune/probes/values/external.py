"""Reward scores computed elsewhere: one CSV per model, a `response` column and one column per prompt key."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crosstune.errors import CrosstuneError
from crosstune.probes.values.prompts import framing_of
from crosstune.user_tables import read_csv

RESPONSE = "response"


def read_rewards(path: Path, model: str) -> pd.DataFrame:
    """Long scores (model, prompt, response, score); every cell must be a number."""

    frame = read_csv(path, "rewards file", dtype=str, keep_default_na=False)
    if RESPONSE not in frame.columns:
        raise CrosstuneError(f"rewards file {path} has no {RESPONSE!r} column (found "
                             f"{list(frame.columns)[:8]}); need {RESPONSE} plus one column per prompt key")
    keys = [c for c in frame.columns if c != RESPONSE]
    if not keys:
        raise CrosstuneError(f"rewards file {path} has no prompt-key columns next to {RESPONSE!r}")
    for key in keys:
        try:
            framing_of(key)
        except CrosstuneError as err:
            raise CrosstuneError(f"rewards file {path}: column {key!r}: {err}") from None
    numeric = frame[keys].apply(lambda col: pd.to_numeric(col.str.strip(), errors="coerce"))
    bad = numeric.isna() | numeric.abs().eq(float("inf"))  # inf or nan ranks nowhere
    if bad.to_numpy().any():
        row, key = next((r, k) for r in frame.index for k in keys if bad.loc[r, k])
        raise CrosstuneError(f"rewards file {path}: non-numeric score {frame.loc[row, key]!r} in column "
                             f"{key!r}, row {row + 2} (response {frame.loc[row, RESPONSE]!r}); every "
                             "score must be a finite number")
    long = numeric.assign(response=frame[RESPONSE]).melt(id_vars="response", var_name="prompt",
                                                         value_name="score")
    return long.assign(model=model)[["model", "prompt", "response", "score"]]


def model_names(paths: list[Path], labels: pd.DataFrame | None) -> list[str]:
    """Each file's model: the labels row whose `file` column names it, else the file's stem."""
    names = []
    by_file = {}
    if labels is not None and "file" in labels.columns:
        by_file = {Path(f).name: m for m, f in labels["file"].items()}
    for path in paths:
        names.append(by_file.get(path.name, path.stem))
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise CrosstuneError(f"several rewards files give model name(s) {duplicated}; "
                             "rename the files or map them with a `file` column in --labels")
    return names


def match_lexicon(scores: pd.DataFrame, words: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores of the responses that are lexicon words (whitespace-stripped, exact case), the highest
    score when several responses strip to one word; and the lexicon words no response matched.
    """
    stripped = scores.assign(word=scores["response"].astype(str).str.strip())
    kept = stripped[stripped["word"].isin(set(words["word"]))]
    kept = kept.groupby(["model", "prompt", "word"], sort=False)["score"].max().reset_index()
    missing = [(m, w) for m, got in kept.groupby("model")["word"]
               for w in sorted(set(words["word"]) - set(got))]
    missing += [(m, w) for m in scores["model"].unique() if m not in set(kept["model"])
                for w in sorted(set(words["word"]))]
    return kept, pd.DataFrame([(m, w, "no response in the rewards file") for m, w in missing],
                              columns=["model", "word", "reason"])
