"""Option letters read from a server's top-k next-token log-probabilities.

Servers write a token as its text: `" A"` after `Answer: Option` on a completions endpoint,
`"A"` at the start of a chat reply; byte-level and SentencePiece markers (`"ĠA"`, `"▁A"`)
appear where a server does not decode. Every spelling of a letter counts towards it. A letter
outside the top k gets no mass: its probability is below the k-th token's, and the count of
such letters says how much that matters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crosstune.served.client import TokenChoice
from crosstune.suite.types import OPTION_LABELS

_SPACES = ("", " ", "Ġ", "▁")


@dataclass(frozen=True)
class LetterReading:
    """Option distribution over the presented letters, renormalised (NaN when none was seen)."""

    probs: np.ndarray
    mass: float
    """Probability the letters had before renormalising."""
    outside_top_k: int
    """How many of the option letters were not among the top k tokens."""


def read_letters(top: list[TokenChoice], n_options: int) -> LetterReading:
    """Sum each letter's spellings, renormalise over the options."""
    spelled = {f"{space}{letter}": i for i, letter in enumerate(OPTION_LABELS[:n_options])
               for space in _SPACES}
    mass = np.zeros(n_options)
    seen = np.zeros(n_options, dtype=bool)
    for choice in top:
        index = spelled.get(choice.token)
        if index is not None:
            mass[index] += float(np.exp(choice.logprob))
            seen[index] = True
    total = float(mass.sum())
    probs = mass / total if total > 0 else np.full(n_options, np.nan)
    return LetterReading(probs, total, int((~seen).sum()))


def read_labels(top: list[TokenChoice], labels: tuple[str, ...]) -> np.ndarray:
    """log P(label) per option label from the top k, every spelling summed (the Backend's
    option log-probabilities); -inf for a label outside the top k."""
    spelled = {f"{space}{label.strip()}": i for i, label in enumerate(labels) for space in _SPACES}
    mass = np.zeros(len(labels))
    for choice in top:
        index = spelled.get(choice.token)
        if index is not None:
            mass[index] += float(np.exp(choice.logprob))
    with np.errstate(divide="ignore"):
        return np.log(mass)
