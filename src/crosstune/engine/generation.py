"""Free generation: greedy (the fallback for models whose option probabilities cannot be read)
and sampled (chains of thought for the faithfulness probe), batched and cached.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import torch

from crosstune.engine.cache import ResultCache, cache_key, cached
from crosstune.engine.precision import compute_precision
from crosstune.models.handle import ModelHandle
from crosstune.progress import Advance


class Generator:
    """Batched, cached generation of up to `max_new_tokens` after each context.

    `generate` is greedy. `sample` draws `count` samples per context at `temperature`; each
    sample is cached under its own key (temperature, top_p, seed and sample index included),
    so greedy and sampled outputs never share an entry. Each batch is seeded from `seed` and
    the keys it holds, so a run from an empty cache is reproducible for a given batch size.
    """

    method = "greedy-generation-v1"
    sample_method = "sampled-generation-v1"

    def __init__(self, handle: ModelHandle, cache: ResultCache | None = None,
                 max_new_tokens: int = 12, batch_size: int = 8, temperature: float = 1.0,
                 top_p: float = 1.0, seed: int = 0):
        self.handle = handle
        self.cache = cache
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.temperature = temperature
        self.top_p = top_p
        self.seed = seed

    def generate(self, contexts: list[str], progress: Advance | None = None) -> list[str]:
        keys = [cache_key(self.handle.fingerprint, self.method, [c, self.max_new_tokens])
                for c in contexts]
        return self._cached(keys, contexts, progress, lambda batch, _: self._generate_batch(batch))

    def sample(self, contexts: list[str], count: int = 1, progress: Advance | None = None
               ) -> list[list[str]]:
        """`count` sampled continuations of each context, in context order."""
        items = [(c, j) for c in contexts for j in range(count)]
        keys = [cache_key(self.handle.fingerprint, self.sample_method,
                          [c, self.max_new_tokens, self.temperature, self.top_p, self.seed, j])
                for c, j in items]
        flat = self._cached(keys, [c for c, _ in items], progress, self._sample_batch)
        return [flat[i * count:(i + 1) * count] for i in range(len(contexts))]

    def _cached(self, keys: list[str], contexts: list[str], progress: Advance | None,
                produce: Callable[[list[str], list[str]], list[str]]) -> list[str]:
        def compute(todo: list[int]) -> Iterator[dict[int, str]]:
            todo = sorted(todo, key=lambda i: len(contexts[i]), reverse=True)
            for start in range(0, len(todo), self.batch_size):
                batch = todo[start : start + self.batch_size]
                with compute_precision(self.handle.model, self.handle.compute_dtype):
                    texts = produce([contexts[i] for i in batch], [keys[i] for i in batch])
                yield dict(zip(batch, texts, strict=True))

        return cached(self.cache, keys, compute, progress)

    def _sample_batch(self, contexts: list[str], keys: list[str]) -> list[str]:
        digest = hashlib.sha256(f"{self.seed}|{'|'.join(keys)}".encode()).hexdigest()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(digest[:15], 16))
            return self._generate_batch(contexts, sample=True)

    @torch.inference_mode()
    def _generate_batch(self, contexts: list[str], sample: bool = False) -> list[str]:
        tok = self.handle.tokenizer
        tok.padding_side = "left"
        enc = tok(contexts, return_tensors="pt", padding=True,
                  add_special_tokens=self.handle.add_special_tokens)
        enc = {k: v.to(next(self.handle.model.parameters()).device) for k, v in enc.items()}
        options = ({"do_sample": True, "temperature": self.temperature, "top_p": self.top_p,
                    "top_k": 0} if sample else {"do_sample": False})
        ids = self.handle.model.generate(
            **enc, max_new_tokens=self.max_new_tokens, pad_token_id=tok.pad_token_id, **options,
        )
        if self.handle.kind == "causal":
            ids = ids[:, enc["input_ids"].shape[1]:]
        return tok.batch_decode(ids, skip_special_tokens=True)
