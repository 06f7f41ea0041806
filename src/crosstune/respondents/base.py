"""The narrow interface between the bias pipeline and whatever answers its prompts.

Like lm-eval's ``LM``: the pipeline builds prompts from pairs and scores the distributions it
gets back; it never asks what produced them. A loaded model and the scripted known-answer
respondents go through the same code from pairs to bias table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from crosstune.progress import Advance
from crosstune.suite.prompts import user_prompt
from crosstune.suite.types import Side, TestPair


@dataclass(frozen=True)
class Prompt:
    """One prompt as shown: a pair's control or treatment, options as listed or reversed."""

    pair: TestPair
    side: Side
    reversed_order: bool

    @property
    def text(self) -> str:
        return user_prompt(self.pair, self.side, self.reversed_order)

    def presented(self) -> list[int]:
        """Canonical option index shown at each position (position i has letter i)."""
        return self.pair.presented(self.side, self.reversed_order)


@dataclass
class Answer:
    """A distribution over the presented positions (sums to 1; all NaN when unparsed)."""

    probs: np.ndarray
    valid_mass: float
    """Probability mass on the option labels before renormalising (1 for scripted answers)."""
    raw: str = ""
    """Generated text in generate mode."""
    context: str = ""
    """The exact text the respondent read, where there is one."""
    outside_top_k: int = 0
    """Option labels a served model's top-k log-probabilities did not include."""


@runtime_checkable
class Respondent(Protocol):
    """Anything that answers prompts with option distributions."""

    name: str
    method: str

    def describe(self) -> dict[str, Any]:
        """Identity for the manifest; must hold a 'fingerprint'."""
        ...

    def answer(self, prompts: Sequence[Prompt], progress: Advance | None = None) -> list[Answer]:
        """One Answer per prompt, in order; calls progress(k) as k prompts finish."""
        ...
