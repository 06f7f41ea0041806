"""Tables for the terminal that never wrap a number or cut a name across lines.

A rich table squeezed into 80 columns (or a pipe, which rich treats as 80 columns) folds its cells:
`-0.0` / `97`, `smollm2-135m-` / `instruct`. Here every cell keeps one line: when the table is
too wide, the widest text columns are abbreviated (`…`), then columns are left out from the right,
and the caller is told what was left out so it can say where the full table is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
from rich.table import Table
from rich.text import Text

from crosstune.errors import printable

_NUMBER = re.compile(r"[-+\[\]()., %0-9eE]*|[-+]?(nan|inf)|<NA>|None")
ABBREVIATED = 12
"""Text columns are cut to no fewer characters than this (plus their header's longest word)."""


@dataclass(frozen=True)
class Fitted:
    table: Table
    left_out: list[str]
    """Columns that did not fit at all."""
    abbreviated: list[str]
    """Text columns whose longer cells end in `…`."""

    def note(self, full: str | None) -> str | None:
        """One line saying what the terminal does not show, and where the rest is."""
        if not self.left_out and not self.abbreviated:
            return None
        parts = [f"not shown: {', '.join(self.left_out)}"] if self.left_out else []
        parts += [f"shortened: {', '.join(self.abbreviated)}"] if self.abbreviated else []
        where = f"the full table is in {full}" if full else "a wider terminal shows them"
        return f"({'; '.join(parts)}; {where})"


def _is_number(cell: str) -> bool:
    return _NUMBER.fullmatch(cell.strip()) is not None


def table_width(widths: list[int]) -> int:
    """Characters a boxed rich table takes: each cell padded by one space a side, n + 1 rules."""
    return sum(widths) + 3 * len(widths) + 1


def fit_table(frame: pd.DataFrame, title: str, width: int) -> Fitted:
    """`frame` as a table no wider than `width`; the first column (what a row names) stays."""
    headers = [printable(str(c)) for c in frame.columns]
    cells = [[printable(str(v)) for v in frame[c]] for c in frame.columns]
    floors = [max((len(word) for word in h.split()), default=1) for h in headers]
    widths = [max([floor, *map(len, column)]) for floor, column in zip(floors, cells, strict=True)]
    text = [i for i, column in enumerate(cells) if not all(map(_is_number, column))]
    abbreviated: list[str] = []
    while table_width(widths) > width:  # shorten the widest text column first, a step at a time
        shrinkable = [i for i in text if widths[i] > max(floors[i], ABBREVIATED)]
        if not shrinkable:
            break
        i = max(shrinkable, key=lambda j: widths[j])
        widths[i] = max(floors[i], ABBREVIATED, widths[i] - (table_width(widths) - width))
        abbreviated += [headers[i]] if headers[i] not in abbreviated else []
    kept = len(widths)
    while kept > 1 and table_width(widths[:kept]) > width:
        kept -= 1
    if table_width(widths[:1]) > width:  # one name longer than the terminal: cut it at the end
        widths[0] = max(1, width - table_width([0]))
        abbreviated += [headers[0]] if headers[0] not in abbreviated else []
    table = Table(title=Text(title) if title else None)
    for header, w in zip(headers[:kept], widths[:kept], strict=True):
        table.add_column(Text(header), width=w, no_wrap=False)
    for row in zip(*cells[:kept], strict=True):
        table.add_row(*(Text(cell, no_wrap=True, overflow="ellipsis") for cell in row))
    return Fitted(table, headers[kept:], [h for h in abbreviated if h in headers[:kept]])
