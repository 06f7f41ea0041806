"""Option log-probabilities: log P(label | context) for every label of every query.

Single-token labels (the common case: letters) cost one forward pass per context, reading the
next-token distribution at the answer position only. Anything else falls back to batched
continuation log-likelihood. Batches are built longest-first and left-padded with position ids
from the attention mask, which keeps padded and unpadded scores equal to ~1e-6.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from crosstune.engine.cache import ResultCache, cache_key
from crosstune.engine.prefix import PrefixGroup, prefix_groups
from crosstune.engine.tokens import EncodedQuery, encode_causal, encode_seq2seq
from crosstune.models.handle import ModelHandle

Progress = Callable[[int], None]


@dataclass(frozen=True)
class OptionQuery:
    """A context and the label continuations to score after it (e.g. ' A', ' B')."""

    context: str
    labels: tuple[str, ...]


class OptionScorer:
    """Scores option labels with one model; results are cached by content when a cache is given."""

    method = "option-logprobs-v1"

    def __init__(self, handle: ModelHandle, cache: ResultCache | None = None,
                 token_budget: int = 2048, share_prefixes: bool = True):
        self.handle = handle
        self.share_prefixes = share_prefixes
        self.cache = cache
        self.token_budget = token_budget
        self.device = next(handle.model.parameters()).device
        self.pad_id = handle.tokenizer.pad_token_id

    def logprobs(
        self, queries: list[OptionQuery], progress: Progress | None = None
    ) -> list[np.ndarray]:
        """log P(label | context) per label, in query order (raw, not renormalised)."""
        keys = [cache_key(self.handle.fingerprint, self.method, [q.context, q.labels])
                for q in queries]
        known = self.cache.get_many(keys) if self.cache else {}
        results: dict[int, np.ndarray] = {
            i: np.asarray(known[k], dtype=np.float64) for i, k in enumerate(keys) if k in known
        }
        if progress and results:
            progress(len(results))
        todo = [i for i in range(len(queries)) if i not in results]
        encoded = {i: self._encode(queries[i]) for i in todo}
        for batch in self._plan(todo, encoded):
            scored = self._score(batch, encoded)
            if self.cache:
                self.cache.put_many({keys[i]: s.tolist() for i, s in scored.items()})
            results.update(scored)
            if progress:
                progress(len(scored))
        return [results[i] for i in range(len(queries))]

    def _plan(self, todo: list[int], encoded: dict[int, EncodedQuery]) -> Iterator[list[PrefixGroup]]:
        """Batches of prefix groups (single-token causal) or of singleton groups (otherwise)."""
        shareable = self.handle.kind == "causal" and all(encoded[i].single_token for i in todo)
        if shareable and self.share_prefixes:
            groups = prefix_groups({i: encoded[i].context for i in todo})
        else:
            groups = [PrefixGroup(0, (i,)) for i in todo]

        def cost(g: PrefixGroup) -> int:
            longest = max(len(encoded[i].context) + max(len(c) for c in encoded[i].continuations)
                          for i in g.members)
            return g.prefix_len + (longest - g.prefix_len) * len(g.members)

        batch: list[PrefixGroup] = []
        spent = 0
        for group in sorted(groups, key=cost, reverse=True):
            if batch and spent + cost(group) > self.token_budget:
                yield batch
                batch, spent = [], 0
            batch.append(group)
            spent += cost(group)
        if batch:
            yield batch

    @torch.inference_mode()
    def _score(self, batch: list[PrefixGroup], encoded: dict[int, EncodedQuery]
               ) -> dict[int, np.ndarray]:
        members = [i for g in batch for i in g.members]
        items = [encoded[i] for i in members]
        if self.handle.kind == "seq2seq":
            return {i: self._seq2seq_item(e) for i, e in zip(members, items, strict=True)}
        if not all(e.single_token for e in items):
            return {i: self._continuation_item(e) for i, e in zip(members, items, strict=True)}
        if all(g.prefix_len == 0 for g in batch):
            return dict(zip(members, self._next_token_batch(items), strict=True))
        return dict(zip(members, self._shared_prefix_batch(batch, encoded), strict=True))

    def _encode(self, query: OptionQuery) -> EncodedQuery:
        tok = self.handle.tokenizer
        if self.handle.kind == "seq2seq":
            return encode_seq2seq(tok, query.context, query.labels)
        return encode_causal(tok, query.context, query.labels, self.handle.add_special_tokens)

    def _left_padded(self, rows: list[list[int]], offsets: torch.Tensor | None = None
                     ) -> dict[str, torch.Tensor]:
        """Left-padded ids, mask, and positions from the mask (shifted by `offsets`)."""
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for n, row in enumerate(rows):
            ids[n, width - len(row):] = torch.tensor(row)
            mask[n, width - len(row):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        if offsets is not None:
            positions = positions + offsets[:, None]
        return {k: v.to(self.device) for k, v in
                {"input_ids": ids, "attention_mask": mask, "position_ids": positions}.items()}

    def _next_token_batch(self, items: list[EncodedQuery]) -> list[np.ndarray]:
        """One forward pass per context; all single-token labels read at the last position."""
        inputs = self._left_padded([e.context for e in items])
        logits = self.handle.model(**inputs, logits_to_keep=1).logits[:, -1, :]
        logp = torch.log_softmax(logits.double(), dim=-1)
        out = []
        for n, e in enumerate(items):
            ids = torch.tensor([c[0] for c in e.continuations], device=logp.device)
            out.append(logp[n, ids].double().cpu().numpy())
        return out

    def _shared_prefix_batch(self, batch: list[PrefixGroup], encoded: dict[int, EncodedQuery]
                             ) -> list[np.ndarray]:
        """Prefixes once per group (KV cache), then every member's suffix on the expanded cache.

        Layout per row: [pad, prefix, pad, suffix]; the mask hides both pads and positions
        continue from each group's prefix length, so scores equal unshared ones (~1e-6).
        """
        prefixes = self._left_padded([encoded[g.members[0]].context[: g.prefix_len] for g in batch])
        cache = self.handle.model(**prefixes, use_cache=True, logits_to_keep=1).past_key_values
        owner = torch.tensor([n for n, g in enumerate(batch) for _ in g.members], device=self.device)
        cache.reorder_cache(owner)
        members = [(g, i) for g in batch for i in g.members]
        offsets = torch.tensor([g.prefix_len for g, _ in members])
        suffix = self._left_padded([encoded[i].context[g.prefix_len:] for g, i in members], offsets)
        mask = torch.cat([prefixes["attention_mask"][owner], suffix["attention_mask"]], dim=1)
        logits = self.handle.model(input_ids=suffix["input_ids"], attention_mask=mask,
                                   position_ids=suffix["position_ids"], past_key_values=cache,
                                   use_cache=False, logits_to_keep=1).logits[:, -1, :]
        logp = torch.log_softmax(logits.double(), dim=-1)
        out = []
        for n, (_, i) in enumerate(members):
            ids = torch.tensor([c[0] for c in encoded[i].continuations], device=logp.device)
            out.append(logp[n, ids].double().cpu().numpy())
        return out

    def _continuation_item(self, e: EncodedQuery) -> np.ndarray:
        """Multi-token labels: sum of log-probs over each continuation, one batch per query."""
        rows = [e.context + list(c) for c in e.continuations]
        longest = max(len(c) for c in e.continuations)
        inputs = self._left_padded([r[:-1] for r in rows])
        logits = self.handle.model(**inputs, logits_to_keep=longest).logits
        logp = torch.log_softmax(logits.double(), dim=-1)
        scores = []
        for n, cont in enumerate(e.continuations):
            span = logp[n, longest - len(cont):, :]
            picked = span.gather(-1, torch.tensor(cont, device=span.device)[:, None])
            scores.append(picked.sum().item())
        return np.asarray(scores, dtype=np.float64)

    def _seq2seq_item(self, e: EncodedQuery) -> np.ndarray:
        """Encoder reads the context once per label; decoder is teacher-forced on the label."""
        model = self.handle.model
        start = model.config.decoder_start_token_id
        longest = max(len(c) for c in e.continuations)
        dec = torch.full((len(e.continuations), longest), self.pad_id, dtype=torch.long)
        for n, cont in enumerate(e.continuations):
            dec[n, : len(cont)] = torch.tensor([start, *cont[:-1]])
        enc = torch.tensor([e.context] * len(e.continuations), device=self.device)
        logits = model(input_ids=enc, decoder_input_ids=dec.to(self.device)).logits
        logp = torch.log_softmax(logits.double(), dim=-1)
        scores = []
        for n, cont in enumerate(e.continuations):
            ids = torch.tensor(cont, device=logp.device)[:, None]
            scores.append(logp[n, : len(cont)].gather(-1, ids).sum().item())
        return np.asarray(scores, dtype=np.float64)
