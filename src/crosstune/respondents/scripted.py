"""Scripted respondents with known answers: the suite's answer key.

Each answers by rule, without reading the text. A respondent whose answer depends only on
letter position, or who answers the same canonical distribution whatever the manipulation,
has no bias: the counterbalanced suite must score it exactly 0. The textbook respondent picks
what each bias predicts (the pair's ``textbook`` options) and must score above 0.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from crosstune.progress import Advance
from crosstune.respondents.base import Answer, Prompt


class _Scripted:
    name = "scripted"
    method = "scripted"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "scripted", "fingerprint": f"scripted-{self.name}"}

    def answer(self, prompts: Sequence[Prompt], progress: Advance | None = None) -> list[Answer]:
        answers = [Answer(self.by_position(p), 1.0) for p in prompts]
        if progress:
            progress(len(prompts))
        return answers

    def by_position(self, prompt: Prompt) -> np.ndarray:
        """Probability per presented position, from the canonical distribution by default."""
        return self.canonical(prompt)[prompt.presented()]

    def canonical(self, prompt: Prompt) -> np.ndarray:
        raise NotImplementedError


class AlwaysFirst(_Scripted):
    """Always the first-listed letter."""

    name = "always_first"

    def by_position(self, prompt: Prompt) -> np.ndarray:
        return np.eye(len(prompt.presented()))[0]


class AlwaysLast(_Scripted):
    """Always the last-listed letter."""

    name = "always_last"

    def by_position(self, prompt: Prompt) -> np.ndarray:
        return np.eye(len(prompt.presented()))[-1]


class PositionalPrior(_Scripted):
    """A fixed, non-uniform prior over positions, falling with each letter (ratio ``decay``)."""

    name = "positional_prior"

    def __init__(self, decay: float = 0.7):
        self.decay = decay

    def by_position(self, prompt: Prompt) -> np.ndarray:
        weights = self.decay ** np.arange(len(prompt.presented()), dtype=float)
        return weights / weights.sum()


class Uniform(_Scripted):
    """Every option equally likely."""

    name = "uniform"

    def by_position(self, prompt: Prompt) -> np.ndarray:
        n = len(prompt.presented())
        return np.full(n, 1.0 / n)


class Invariant(_Scripted):
    """The same distribution over the compared scale in control and treatment, random per pair.

    'The same' is on the scale the score compares: for flip designs the treatment's mirrored
    index, for difference designs the compared options (any decoy gets a random extra share).
    """

    name = "invariant"

    def canonical(self, prompt: Prompt) -> np.ndarray:
        pair = prompt.pair
        digest = hashlib.sha256(pair.pair_id.encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
        q = rng.dirichlet(np.ones(len(pair.control_options)))
        decoy_share = rng.uniform(0.05, 0.5)
        if prompt.side == "control":
            return q
        n = len(pair.treatment_options)
        keep = [pair.same_answer_in_treatment(i) for i in range(len(q))]
        extra = n - len(keep)
        out = np.full(n, decoy_share / extra if extra else 0.0)
        out[keep] = q * (1 - decoy_share) if extra else q
        return out


class Textbook(_Scripted):
    """Picks what the bias predicts, by the options' meaning (the pair's textbook answers)."""

    name = "textbook"

    def canonical(self, prompt: Prompt) -> np.ndarray:
        pair = prompt.pair
        index = pair.textbook[0 if prompt.side == "control" else 1]
        return np.eye(len(pair.options(prompt.side)))[index]


def scripted_respondents() -> list[_Scripted]:
    """Every known-answer respondent, the unbiased ones first and the textbook one last."""
    return [AlwaysFirst(), AlwaysLast(), PositionalPrior(), Uniform(), Invariant(), Textbook()]


POSITION_ONLY = ("always_first", "always_last", "positional_prior")
"""Respondents that cancel only when every prompt is shown in both orders."""
UNBIASED = (*POSITION_ONLY, "uniform", "invariant")
