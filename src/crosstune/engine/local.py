"""A model loaded in this process (Hugging Face folder or hub id, GGUF, adapter) as a Backend.

Option log-probabilities go through OptionScorer (token trie, cached), text through Generator.
The contexts are rendered with the model's own prompt format, exactly as before the Backend
existed, so cache keys and numbers are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from crosstune.engine.backend import BackendOptions, Context, Sampling
from crosstune.engine.cache import ResultCache
from crosstune.engine.generation import Generator
from crosstune.engine.scoring import OptionQuery, OptionScorer
from crosstune.models.handle import ModelHandle
from crosstune.progress import Advance


class LocalBackend:
    """Wraps a ModelHandle; `handle` stays reachable for what only a local model has (weights,
    the whole vocabulary, training)."""

    scores_options = True

    def __init__(self, handle: ModelHandle, cache: ResultCache | None = None,
                 token_budget: int = 2048, batch_size: int = 8):
        self.handle = handle
        self.cache = cache
        self.token_budget = token_budget
        self.batch_size = batch_size

    @property
    def name(self) -> str:
        return self.handle.name

    @property
    def fingerprint(self) -> str:
        return self.handle.fingerprint

    @property
    def load_seconds(self) -> float:
        return self.handle.load_seconds

    def describe(self) -> dict[str, Any]:
        return self.handle.describe()

    def method_name(self, generate: bool) -> str:
        return Generator.method if generate else OptionScorer.method

    def render(self, context: Context) -> str:
        return self.handle.render(context.user, context.reply)

    def text(self, context: Context) -> str:
        return self.render(context)

    def option_logprobs(self, contexts: Sequence[Context], labels: Sequence[tuple[str, ...]],
                        progress: Advance | None = None) -> list[np.ndarray]:
        scorer = OptionScorer(self.handle, self.cache, self.token_budget)
        return scorer.logprobs([OptionQuery(self.render(c), tuple(ls))
                                for c, ls in zip(contexts, labels, strict=True)], progress)

    def generate(self, contexts: Sequence[Context], max_new_tokens: int,
                 progress: Advance | None = None) -> list[str]:
        generator = Generator(self.handle, self.cache, max_new_tokens, self.batch_size)
        return generator.generate([self.render(c) for c in contexts], progress)

    def sample(self, contexts: Sequence[Context], count: int, sampling: Sampling,
               progress: Advance | None = None) -> list[list[str]]:
        generator = Generator(self.handle, self.cache, sampling.max_new_tokens, self.batch_size,
                              sampling.temperature, sampling.top_p, sampling.seed)
        return generator.sample([self.render(c) for c in contexts], count, progress)

    def count_tokens(self, text: str) -> int:
        return len(self.handle.tokenizer(text, add_special_tokens=False)["input_ids"])

    def close(self) -> None:
        """Nothing to release: the handle goes when the last reference does."""


def open_backend(spec: str, options: BackendOptions, cache: ResultCache | None = None
                 ) -> LocalBackend:
    """Load `spec` (embedded name, folder, hub id, .gguf, adapter folder) with `options`."""
    from crosstune.models.loader import load_model

    handle = load_model(spec, options.adapter, options.prompt_format, options.device,
                        options.dtype, trust_remote_code=options.trust_remote_code)
    return LocalBackend(handle, cache, options.batching.token_budget, options.batching.batch_size)
