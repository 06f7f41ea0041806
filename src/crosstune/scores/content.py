"""Content sensitivity: does a model read the options, or answer by their letter position?

Every pair is shown in two orders (as listed and reversed). A model that answers by position only
gives the same probabilities to the same letters in both orders, so its counterbalanced answer
is reversal-symmetric (0.5 / 0.5 on a binary question) and it scores 0 on every bias by
construction. Per pair and side, the shift is the probability mass that moves between letters
when the order is reversed (total variation between the two presented distributions): 0 for a
position-only answer, up to 1 for a model whose answer follows the content. A pair reads the
content when either side shifts by at least `CONTENT_TOLERANCE`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from crosstune.store import PAIRS

CONTENT_TOLERANCE = 0.02
"""Probability mass that must move between the two orders for a pair to count as read."""
COLUMNS = ["content_share", "order_shift"]
"""Per bias: share of scored pairs that read the content, mean mass moved between orders."""


def _shift(orders: object) -> float:
    """Mass moved between the presented distributions of the two orders (NaN with one order)."""
    canon = [np.asarray(o, dtype=float) for o in orders]  # type: ignore[union-attr]
    if len(canon) != 2 or any(np.isnan(c).any() for c in canon):
        return float("nan")
    listed, reversed_canonical = canon
    presented_reversed = reversed_canonical[::-1]  # reversal shows scale index n-1-i at position i
    return float(0.5 * np.abs(listed - presented_reversed).sum())


def pair_shifts(pairs: pd.DataFrame) -> pd.Series:
    """Per pair: the larger of its two sides' shifts (index aligned with `pairs`)."""
    control = pairs["probs_control_orders"].map(_shift)
    treatment = pairs["probs_treatment_orders"].map(_shift)
    return pd.concat([control, treatment], axis=1).max(axis=1, skipna=False)


def content_sensitivity(pairs: pd.DataFrame, tolerance: float = CONTENT_TOLERANCE) -> pd.DataFrame:
    """Per bias (index): `content_share` (share of two-order pairs that read the content) and
    `order_shift` (mean mass moved); NaN where no pair was shown in both orders."""
    shift = pair_shifts(pairs)
    frame = pd.DataFrame({"bias": pairs["bias"].to_numpy(), "shift": shift.to_numpy()})
    frame = frame[frame["shift"].notna()]
    grouped = frame.groupby("bias")["shift"]
    out = pd.DataFrame({"content_share": grouped.apply(lambda s: float((s >= tolerance).mean())),
                        "order_shift": grouped.mean()})
    return out.reindex(sorted(pairs["bias"].unique())).rename_axis("bias")


def folder_content(folder: Path) -> pd.Series:
    """Per bias, the content share of one evaluation folder (empty for folders written before
    the per-order probabilities were stored)."""
    try:
        pairs = pd.read_parquet(folder / PAIRS, columns=["bias", "probs_control_orders",
                                                         "probs_treatment_orders"])
    except (OSError, ValueError, KeyError):
        return pd.Series(dtype=float)
    return content_sensitivity(pairs)["content_share"]


def content_table(folders: dict[str, Path]) -> pd.DataFrame:
    """models x biases: each model's content share per bias, from its evaluation folder."""
    return pd.DataFrame({model: folder_content(folder) for model, folder in folders.items()}).T


POSITION_FLAG = "answers by position"


def content_gate(finetune: Path, backbone: Path) -> str:
    """The job table's content check: the finetune's share of pairs read (mean over biases)
    beside its untuned backbone's, flagged when it fell below half of it (empty before both
    are evaluated)."""
    own, base = folder_content(finetune).mean(), folder_content(backbone).mean()
    if not (np.isfinite(own) and np.isfinite(base)):
        return ""
    flag = f", {POSITION_FLAG}" if own < 0.5 * base else ""
    return f"{own:.0%} (untuned {base:.0%}){flag}"
