"""A model as a respondent: any Backend (a loaded model, a server), option log-probabilities or
generation and parsing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import softmax

from crosstune.choices import Method
from crosstune.engine import ResultCache
from crosstune.engine.backend import Backend, Context
from crosstune.models.handle import ModelHandle
from crosstune.progress import Advance
from crosstune.respondents.base import Answer, Prompt
from crosstune.suite.prompts import ANSWER_CUE, label_continuations, parse_answer

GENERATE_TOKENS = 12
"""Tokens generated per prompt in generate mode."""


def as_backend(model: ModelHandle | Backend, cache: ResultCache | None = None, **local: Any
               ) -> Backend:
    """A loaded ModelHandle becomes a LocalBackend (`local`: its token budget, batch size); a
    backend is used as it is."""
    if isinstance(model, ModelHandle):
        from crosstune.engine.local import LocalBackend

        return LocalBackend(model, cache, **local)
    return model


class ModelRespondent:
    """Wraps a Backend (or a ModelHandle); ``method`` picks option probabilities or generation.

    A backend that gives no option probabilities (a server without log-probabilities) generates.
    """

    def __init__(self, model: ModelHandle | Backend, method: Method = "probability",
                 cache: ResultCache | None = None, token_budget: int = 2048):
        self.backend = as_backend(model, cache, token_budget=token_budget)
        self.name = self.backend.name
        self.kind: Method = method if self.backend.scores_options else "generate"
        self.method = self.backend.method_name(self.kind == "generate")
        self.load_seconds = self.backend.load_seconds

    @property
    def handle(self) -> ModelHandle:
        """The loaded model of a local backend."""
        return self.backend.handle  # type: ignore[attr-defined]

    def describe(self) -> dict[str, Any]:
        return self.backend.describe()

    def answer(self, prompts: Sequence[Prompt], progress: Advance | None = None) -> list[Answer]:
        asked = [Context(p.text, ANSWER_CUE) for p in prompts]
        contexts = [self.backend.text(c) for c in asked]
        if self.kind == "probability":
            labels = [label_continuations(p.pair, p.side) for p in prompts]
            logps = self.backend.option_logprobs(asked, labels, progress)
            return [answer_from_logprobs(lp, ctx) for lp, ctx in zip(logps, contexts, strict=True)]
        texts = self.backend.generate(asked, GENERATE_TOKENS, progress)
        return [answer_from_text(p, text, ctx) for p, text, ctx in zip(prompts, texts, contexts, strict=True)]


def answer_from_logprobs(logp: np.ndarray, context: str) -> Answer:
    """Option log-probabilities renormalised over the options; their mass before that. A label
    a server's top k did not include (-inf) gets no mass and is counted; none seen is NaN."""
    logp = np.asarray(logp, dtype=float)
    unseen = np.isneginf(logp)
    if unseen.all():
        return Answer(np.full(len(logp), np.nan), 0.0, "", context, outside_top_k=int(unseen.sum()))
    return Answer(softmax(logp), float(np.exp(logp).sum()), "", context,
                  outside_top_k=int(unseen.sum()))


def answer_from_text(prompt: Prompt, text: str, context: str) -> Answer:
    """A generated answer as one option (all NaN when it names none): the generate path."""
    presented = prompt.presented()
    index = parse_answer(text, prompt.pair, prompt.side, prompt.reversed_order)
    if index is None:
        return Answer(np.full(len(presented), np.nan), float("nan"), text, context)
    return Answer(np.eye(len(presented))[presented.index(index)], 1.0, text, context)
