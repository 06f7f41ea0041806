"""A loaded model as a respondent: option log-probabilities, or generation and parsing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import softmax

from crosstune.choices import Method
from crosstune.engine import OptionQuery, OptionScorer, ResultCache
from crosstune.engine.generation import Generator
from crosstune.models.handle import ModelHandle
from crosstune.progress import Advance
from crosstune.respondents.base import Answer, Prompt
from crosstune.suite.prompts import ANSWER_CUE, label_continuations, parse_answer


class ModelRespondent:
    """Wraps a ModelHandle; ``method`` picks the engine's OptionScorer or Generator."""

    def __init__(self, handle: ModelHandle, method: Method = "probability",
                 cache: ResultCache | None = None, token_budget: int = 2048):
        self.handle = handle
        self.name = handle.name
        self.kind = method
        self.method = OptionScorer.method if method == "probability" else Generator.method
        self.cache = cache
        self.token_budget = token_budget

    def describe(self) -> dict[str, Any]:
        return self.handle.describe()

    def answer(self, prompts: Sequence[Prompt], progress: Advance | None = None) -> list[Answer]:
        contexts = [self.handle.render(p.text, ANSWER_CUE) for p in prompts]
        if self.kind == "probability":
            scorer = OptionScorer(self.handle, self.cache, self.token_budget)
            logps = scorer.logprobs([OptionQuery(ctx, label_continuations(p.pair, p.side))
                                     for p, ctx in zip(prompts, contexts, strict=True)], progress)
            return [answer_from_logprobs(lp, ctx) for lp, ctx in zip(logps, contexts, strict=True)]
        texts = Generator(self.handle, self.cache).generate(contexts, progress)
        return [answer_from_text(p, text, ctx) for p, text, ctx in zip(prompts, texts, contexts, strict=True)]


def answer_from_logprobs(logp: np.ndarray, context: str) -> Answer:
    """Option log-probabilities renormalised over the options; their mass before that."""
    logp = np.asarray(logp, dtype=float)
    return Answer(softmax(logp), float(np.exp(logp).sum()), "", context)


def answer_from_text(prompt: Prompt, text: str, context: str) -> Answer:
    """A generated answer as one option (all NaN when it names none): the generate path."""
    presented = prompt.presented()
    index = parse_answer(text, prompt.pair, prompt.side, prompt.reversed_order)
    if index is None:
        return Answer(np.full(len(presented), np.nan), float("nan"), text, context)
    return Answer(np.eye(len(presented))[presented.index(index)], 1.0, text, context)
