"""Value lexicons (category -> words): CSV, LIWC .dic and .dicx; wildcards expand against a vocabulary."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from crosstune.errors import CrosstuneError, read_user_text
from crosstune.user_tables import read_csv

DEMO_LEXICON = Path(__file__).parent / "data" / "big_two_demo.csv"
"""A small agency/communion noun list written for the offline demo (not the published dictionary)."""

CSV_COLUMNS = ("Category", "token_decoded")


@dataclass(frozen=True)
class Lexicon:
    """Terms per category, in file order; a term ending in '*' is a LIWC wildcard."""

    entries: pd.DataFrame
    """Columns: category, term."""
    source: str

    @property
    def categories(self) -> list[str]:
        """Categories in the order the file first names them (the first is the reference level)."""
        return list(dict.fromkeys(self.entries["category"]))

    def expand(self, vocabulary: Iterable[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(category, word) rows with wildcards replaced by matching vocabulary words
        (case-insensitive prefix, as LIWC does), and the wildcards that matched nothing.
        """
        words = sorted({v.strip() for v in vocabulary if v.strip()})
        lowered = [(w.lower(), w) for w in words]
        rows, unmatched = [], []
        for category, term in self.entries.itertuples(index=False):
            if not term.endswith("*"):
                rows.append((category, term))
                continue
            stem = term[:-1].lower()
            hits = [w for low, w in lowered if low.startswith(stem)]
            rows += [(category, w) for w in hits]
            if not hits:
                unmatched.append((category, term, "wildcard matched no vocabulary word"))
        expanded = pd.DataFrame(rows, columns=["category", "word"]).drop_duplicates(ignore_index=True)
        return expanded, pd.DataFrame(unmatched, columns=["category", "word", "reason"])


def read_lexicon(path: Path | None = None) -> Lexicon:
    """A lexicon file by its suffix: .csv (Category,token_decoded), .dic or .dicx (LIWC)."""
    path = path or DEMO_LEXICON
    if path.is_dir():
        raise CrosstuneError(f"lexicon {path} is a folder; give a .csv, .dic or .dicx file")
    if not path.is_file():
        raise CrosstuneError(f"lexicon {path} not found; give a .csv, .dic or .dicx file with --lexicon")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        entries = _read_csv(path)
    elif suffix == ".dic":
        entries = _read_dic(path)
    elif suffix == ".dicx":
        entries = _read_dicx(path)
    else:
        raise CrosstuneError(f"lexicon {path}: unknown format {suffix!r}; use .csv, .dic or .dicx")
    entries = entries.assign(term=entries["term"].astype(str).str.strip(),
                             category=entries["category"].astype(str).str.strip())
    entries = entries[entries["term"] != ""].drop_duplicates(ignore_index=True)
    if entries.empty:
        raise CrosstuneError(f"lexicon {path} holds no terms")
    return Lexicon(entries[["category", "term"]], str(path))


def _table(path: Path) -> pd.DataFrame:
    """A CSV-shaped lexicon; empty, binary, non-UTF-8, header-only and repeated columns are named."""

    return read_csv(path, "lexicon", dtype=str, keep_default_na=False)


def _text(path: Path) -> str:
    """A .dic file's text; a BOM is accepted, another encoding or a binary file is named."""
    return read_user_text(path, "lexicon", "a LIWC .dic text file in UTF-8")


def _read_csv(path: Path) -> pd.DataFrame:
    frame = _table(path)
    missing = [c for c in CSV_COLUMNS if c not in frame.columns]
    if missing:
        raise CrosstuneError(f"lexicon {path} lacks column(s) {missing}; a CSV lexicon has columns "
                             f"{','.join(CSV_COLUMNS)} (found {list(frame.columns)})")
    return frame.rename(columns={"Category": "category", "token_decoded": "term"})


def _read_dic(path: Path) -> pd.DataFrame:
    """LIWC .dic: '%', 'id<TAB>name' lines, '%', then 'term<TAB>id id ...' lines."""
    lines = [ln.rstrip("\n") for ln in _text(path).splitlines() if ln.strip()]
    marks = [i for i, ln in enumerate(lines) if ln.strip() == "%"]
    if len(marks) < 2:
        raise CrosstuneError(f"lexicon {path} is not a LIWC .dic file (needs two '%' lines around "
                             "the category list)")
    names = {}
    for line in lines[marks[0] + 1 : marks[1]]:
        key, _, name = line.strip().partition("\t") if "\t" in line else line.strip().partition(" ")
        names[key.strip()] = name.strip()
    rows = []
    for line in lines[marks[1] + 1 :]:
        if "\t" in line:
            term, _, rest = line.partition("\t")
            ids = rest.split()
        else:  # space-separated: the term is everything before the first category id
            tokens = line.split()
            first_id = next((i for i, t in enumerate(tokens) if t.isdigit()), len(tokens))
            term, ids = " ".join(tokens[:first_id]), tokens[first_id:]
        for cid in ids:
            if cid not in names:
                raise CrosstuneError(f"lexicon {path}: term {term!r} names category {cid!r}, "
                                     f"which the header does not define ({', '.join(names)})")
            rows.append((names[cid], term))
    return pd.DataFrame(rows, columns=["category", "term"])


def _read_dicx(path: Path) -> pd.DataFrame:
    """LIWC-22 .dicx: a DicTerm column and one column per category, marked 'X'."""
    frame = _table(path)
    if "DicTerm" not in frame.columns:
        raise CrosstuneError(f"lexicon {path} is not a .dicx file: no DicTerm column "
                             f"(found {list(frame.columns)})")
    rows = [(category, term) for category in frame.columns if category != "DicTerm"
            for term, mark in zip(frame["DicTerm"], frame[category], strict=True)
            if mark.strip().upper() == "X"]
    return pd.DataFrame(rows, columns=["category", "term"])
