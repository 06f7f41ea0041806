"""A user's CSV file read once, with every way it can be unreadable said in one line: the one
reader behind score tables, label files, lexicons, reward-score files and a run's own tables."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from crosstune.errors import CrosstuneError


def read_csv(path: Path, what: str, **options) -> pd.DataFrame:
    """A CSV read with every way it can be unreadable said in one line: missing, empty,
    binary or not UTF-8, malformed, or a header without rows.
    """
    if not path.is_file():
        raise CrosstuneError(f"{what} {path} not found (or not a file)")
    data = path.read_bytes()
    if not data.strip():
        raise CrosstuneError(f"{what} {path} is empty: give a CSV with a header row and one row per entry")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise CrosstuneError(f"{what} {path} is not UTF-8 text (binary file?): give a CSV") from None
    if b"\0" in data:
        raise CrosstuneError(f"{what} {path} contains NUL bytes (binary file?): give a CSV")
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", **options)  # a BOM (spreadsheets) is no name
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise CrosstuneError(f"{what} {path} is not a valid CSV ({str(err).splitlines()[0]})") from None
    if len(frame.index) == 0:
        raise CrosstuneError(f"{what} {path} has a header but no data rows")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle), [])
    unnamed = [i + 1 for i, h in enumerate(header) if i > 0 and not h.strip()]
    if unnamed:
        raise CrosstuneError(f"{what} {path}: column(s) {unnamed} have no name in the header row; name them")
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise CrosstuneError(f"{what} {path}: duplicated column name(s) {repeated}; each must be unique")
    return frame
