"""Option log-probabilities: log P(label | context) for every label of every query.

Causal models score through a token trie (trie.py): each distinct token prefix of a batch is
computed once, and logits are read only where a label starts (single-token labels, the common
case) or at each label token (multi-token labels). Seq2seq models, and causal models whose
attention cannot take a custom mask, use plain left-padded batches with position ids from
the attention mask. All paths agree with one-prompt-at-a-time scoring to ~1e-6.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from crosstune.engine.cache import ResultCache, cache_key, cached
from crosstune.engine.precision import compute_precision
from crosstune.engine.tokens import EncodedQuery, encode_causal, encode_given, encode_seq2seq
from crosstune.engine.trie import Batch, Path, Trie, build_trie, plan, row_mask
from crosstune.models.handle import ModelHandle
from crosstune.progress import Advance

MASKABLE_ATTENTION = {"sdpa", "eager"}
MASKABLE_LAYERS = {"full_attention", "sliding_attention"}


@dataclass(frozen=True)
class OptionQuery:
    """A context and the label continuations to score after it (e.g. ' A', ' B').

    `token_ids`: labels the caller has already found to be one token each (one id per label,
    e.g. a lexicon's single-token words); the context is then tokenised as it stands, with no
    trailing whitespace moved into the labels.
    """

    context: str
    labels: tuple[str, ...]
    token_ids: tuple[int, ...] | None = None

    @property
    def payload(self) -> list:
        """What the answer depends on besides the model (the cache key's content)."""
        given = [] if self.token_ids is None else [self.token_ids]
        return [self.context, self.labels, *given]


class OptionScorer:
    """Scores option labels with one model; results are cached by content when a cache is given.

    `row_limit` caps the distinct tokens packed in one trie row (attention over a row costs
    its width squared); `share_prefixes=False` scores every context on its own (a reference).
    """

    method = "option-logprobs-v1"

    def __init__(self, handle: ModelHandle, cache: ResultCache | None = None,
                 token_budget: int = 2048, share_prefixes: bool = True, row_limit: int = 512):
        self.handle = handle
        self.share_prefixes = share_prefixes
        self.cache = cache
        self.token_budget = token_budget
        self.row_limit = min(row_limit, token_budget)
        self.device = next(handle.model.parameters()).device
        self.pad_id = handle.tokenizer.pad_token_id
        self.stats = {"prompt_tokens": 0, "computed_tokens": 0, "padded_tokens": 0, "forwards": 0,
                      "attention_pairs": 0, "logit_rows": 0}
        """Tokens in the scored contexts, distinct tokens run, tokens incl. padding, forward
        passes, query-key pairs attention computes (masked ones too) and output-head rows: what
        a FLOP count needs (benchmarks/engine.py)."""

    @property
    def cache_method(self) -> str:
        """The method name in cache keys: compute precision changes the numbers."""
        compute = self.handle.compute_dtype
        return f"{self.method}+{compute}-matmul" if compute else self.method

    def logprobs(
        self, queries: list[OptionQuery], progress: Advance | None = None
    ) -> list[np.ndarray]:
        """log P(label | context) per label, in query order (raw, not renormalised)."""
        keys = [cache_key(self.handle.fingerprint, self.cache_method, q.payload) for q in queries]

        def compute(todo: list[int]) -> Iterator[dict[int, np.ndarray]]:
            encoded = {i: self._encode(queries[i]) for i in todo}
            with compute_precision(self.handle.model, self.handle.compute_dtype):
                yield from self._batches(todo, encoded)

        return cached(self.cache, keys, compute, progress, store=lambda s: s.tolist(),
                      load=lambda v: np.asarray(v, dtype=np.float64))

    def _encode(self, query: OptionQuery) -> EncodedQuery:
        tok = self.handle.tokenizer
        if query.token_ids is not None:
            return encode_given(tok, query.context, query.token_ids,
                                self.handle.kind == "seq2seq" or self.handle.add_special_tokens)
        if self.handle.kind == "seq2seq":
            return encode_seq2seq(tok, query.context, query.labels)
        return encode_causal(tok, query.context, query.labels, self.handle.add_special_tokens)

    @property
    def packable(self) -> bool:
        """Causal model whose attention takes a 4D mask (sdpa/eager; full or sliding layers)."""
        config = self.handle.model.config
        layers = set(getattr(config, "layer_types", None) or ["full_attention"])
        return (self.handle.kind == "causal" and layers <= MASKABLE_LAYERS
                and getattr(config, "_attn_implementation", None) in MASKABLE_ATTENTION)

    def _batches(self, todo: list[int], encoded: dict[int, EncodedQuery]
                 ) -> Iterator[dict[int, np.ndarray]]:
        if not todo:
            return
        for i in todo:
            self.stats["prompt_tokens"] += len(encoded[i].context)
        if self.packable:
            yield from self._trie_batches(todo, encoded)
            return
        chunk: list[int] = []
        for i in sorted(todo, key=lambda i: len(encoded[i].context), reverse=True):
            if chunk and (len(chunk) + 1) * len(encoded[chunk[0]].context) > self.token_budget:
                yield self._score(chunk, encoded)
                chunk = []
            chunk.append(i)
        yield self._score(chunk, encoded)

    def _score(self, chunk: list[int], encoded: dict[int, EncodedQuery]) -> dict[int, np.ndarray]:
        """The fallback: seq2seq items, or left-padded causal batches without sharing."""
        items = [encoded[i] for i in chunk]
        if self.handle.kind == "seq2seq":
            return {i: self._seq2seq_item(e) for i, e in zip(chunk, items, strict=True)}
        if not all(e.single_token for e in items):
            return {i: self._continuation_item(e) for i, e in zip(chunk, items, strict=True)}
        return dict(zip(chunk, self._next_token_batch(items), strict=True))

    # -- the trie path ------------------------------------------------------------------------

    def plan_trie(self, todo: list[int], encoded: dict[int, EncodedQuery]
                  ) -> tuple[Trie, list[Path], list[tuple[int, int]], list[Batch]]:
        """The trie of the queries' token paths, each path's (query, label), and the batches."""
        paths: list[Path] = []
        owner: list[tuple[int, int]] = []
        for i in todo:
            e = encoded[i]
            for label, cont in enumerate(e.continuations):
                if e.single_token and label:
                    continue  # one path serves every single-token label
                tokens = tuple(e.context) + tuple(cont[:-1])
                paths.append(Path(tokens, tuple(range(len(e.context) - 1, len(tokens)))))
                owner.append((i, label))
        trie = build_trie(paths)
        batches = plan(trie, paths, self.token_budget, self.row_limit, self._attention_weight(),
                       share=self.share_prefixes)
        return trie, paths, owner, batches

    def _trie_batches(self, todo: list[int], encoded: dict[int, EncodedQuery]
                      ) -> Iterator[dict[int, np.ndarray]]:
        """Run the plan batch by batch; a query is done with its last path."""
        trie, paths, owner, batches = self.plan_trie(todo, encoded)
        remaining = {i: sum(1 for q, _ in owner if q == i) for i in todo}
        partial: dict[int, np.ndarray] = {i: np.zeros(len(encoded[i].continuations)) for i in todo}
        for batch in batches:
            wanted = self._targets(batch, trie, paths, owner, encoded)
            got = self._run(batch, trie, wanted)
            done: dict[int, np.ndarray] = {}
            for p in batch.paths:
                i, label = owner[p]
                e = encoded[i]
                nodes = trie.path_nodes[p]
                if e.single_token:
                    read = got[nodes[len(e.context) - 1]]
                    partial[i] = np.array([read[c[0]] for c in e.continuations])
                else:
                    cont = e.continuations[label]
                    start = len(e.context) - 1
                    partial[i][label] = sum(got[nodes[start + j]][t] for j, t in enumerate(cont))
                remaining[i] -= 1
                if remaining[i] == 0:
                    done[i] = partial.pop(i)
            yield done

    def _targets(self, batch: Batch, trie: Trie, paths: list[Path], owner: list[tuple[int, int]],
                 encoded: dict[int, EncodedQuery]) -> dict[int, set[int]]:
        """Read node -> the token ids whose log-probability is needed there."""
        wanted: dict[int, set[int]] = {}
        for p in batch.paths:
            i, label = owner[p]
            e = encoded[i]
            nodes = trie.path_nodes[p]
            start = len(e.context) - 1
            if e.single_token:
                wanted.setdefault(nodes[start], set()).update(c[0] for c in e.continuations)
            else:
                for j, t in enumerate(e.continuations[label]):
                    wanted.setdefault(nodes[start + j], set()).add(t)
        return wanted

    def _attention_weight(self) -> float:
        """Cost of one query-key pair relative to one token through the linear layers."""
        config = self.handle.model.config
        hidden = getattr(config, "hidden_size", 0)
        heads = getattr(config, "num_attention_heads", 0)
        head_dim = getattr(config, "head_dim", None) or (hidden // heads if heads else 0)
        layers = getattr(config, "num_hidden_layers", 0)
        body = sum(p.numel() for n, p in self.handle.model.named_parameters() if "embed" not in n)
        if not (hidden and heads and layers and body):
            return 1 / 3000
        return 4 * heads * head_dim * layers / (2 * body)

    @torch.inference_mode()
    def _run(self, batch: Batch, trie: Trie, wanted: dict[int, set[int]]
             ) -> dict[int, dict[int, float]]:
        """Stem once (KV cache, expanded to every row), then all rows under their tree masks."""
        model = self.handle.model
        rows, width, stem = len(batch.rows), batch.width, len(batch.stem)
        cache = None
        if stem:
            ids = torch.tensor([[trie.token[n] for n in batch.stem]], device=self.device)
            cache = model(input_ids=ids, use_cache=True, logits_to_keep=1).past_key_values
            self._count(stem, stem * stem, 1, stem)
            cache.reorder_cache(torch.zeros(rows, dtype=torch.long, device=self.device))
        ids = torch.full((rows, width), self.pad_id, dtype=torch.long)
        positions = torch.zeros((rows, width), dtype=torch.long)
        mask = np.zeros((rows, 1, width, stem + width), dtype=bool)
        for r, row in enumerate(batch.rows):
            layout = row.layout(width)
            cols = [c for c, node in enumerate(layout) if node is not None]
            ids[r, cols] = torch.tensor([trie.token[layout[c]] for c in cols])
            positions[r, cols] = torch.tensor([trie.depth[layout[c]] for c in cols])
            mask[r, 0] = row_mask(trie, layout, stem)
        self._count(sum(len(r.nodes) for r in batch.rows), rows * width * (stem + width),
                    rows * batch.reads, rows * width)
        attention = self._mask_argument(torch.from_numpy(mask), positions, stem)
        logits = model(input_ids=ids.to(self.device), attention_mask=attention,
                       position_ids=positions.to(self.device), past_key_values=cache,
                       use_cache=False, logits_to_keep=batch.reads).logits
        out: dict[int, dict[int, float]] = {}
        for r, row in enumerate(batch.rows):
            n = len(row.nodes)
            logp = torch.log_softmax(logits[r, batch.reads - row.n_reads:].double(), dim=-1)
            for k, node in enumerate(row.nodes[n - row.n_reads:]):
                targets = sorted(wanted.get(node, ()))
                values = logp[k, targets].cpu().tolist()
                out[node] = dict(zip(targets, values, strict=True))
        return out

    def _count(self, computed: int, attention_pairs: int, logit_rows: int, padded: int) -> None:
        """One forward pass's work."""
        self.stats["computed_tokens"] += computed
        self.stats["padded_tokens"] += padded
        self.stats["attention_pairs"] += attention_pairs
        self.stats["logit_rows"] += logit_rows
        self.stats["forwards"] += 1

    def _mask_argument(self, mask: torch.Tensor, positions: torch.Tensor, stem: int
                       ) -> torch.Tensor | dict[str, torch.Tensor]:
        """The boolean tree mask in the form the attention implementation expects."""
        config = self.handle.model.config
        masks = {"full_attention": mask}
        if "sliding_attention" in (getattr(config, "layer_types", None) or []):
            keys = torch.cat([torch.arange(stem).expand(len(positions), stem), positions], dim=1)
            near = positions[:, :, None] - keys[:, None, :] < config.sliding_window
            masks["sliding_attention"] = mask & near[:, None]
        if config._attn_implementation == "eager":
            dtype = next(self.handle.model.parameters()).dtype
            masks = {k: torch.zeros(m.shape, dtype=dtype).masked_fill(~m, torch.finfo(dtype).min)
                     for k, m in masks.items()}
        masks = {k: m.to(self.device) for k, m in masks.items()}
        return masks if len(masks) > 1 else masks["full_attention"]

    # -- the fallback paths -------------------------------------------------------------------

    def _left_padded(self, rows: list[list[int]]) -> dict[str, torch.Tensor]:
        """Left-padded ids, mask, and positions from the mask."""
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for n, row in enumerate(rows):
            ids[n, width - len(row):] = torch.tensor(row)
            mask[n, width - len(row):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        self._count(int(mask.sum()), len(rows) * width * width, 0, ids.numel())
        return {k: v.to(self.device) for k, v in
                {"input_ids": ids, "attention_mask": mask, "position_ids": positions}.items()}

    @torch.inference_mode()
    def _next_token_batch(self, items: list[EncodedQuery]) -> list[np.ndarray]:
        """One forward pass per context; all single-token labels read at the last position."""
        inputs = self._left_padded([e.context for e in items])
        logits = self.handle.model(**inputs, logits_to_keep=1).logits[:, -1, :]
        self.stats["logit_rows"] += len(items)
        logp = torch.log_softmax(logits.double(), dim=-1)
        out = []
        for n, e in enumerate(items):
            ids = torch.tensor([c[0] for c in e.continuations], device=logp.device)
            out.append(logp[n, ids].cpu().numpy())
        return out

    @torch.inference_mode()
    def _continuation_item(self, e: EncodedQuery) -> np.ndarray:
        """Multi-token labels: sum of log-probs over each continuation, one batch per query."""
        rows = [e.context + list(c) for c in e.continuations]
        longest = max(len(c) for c in e.continuations)
        inputs = self._left_padded([r[:-1] for r in rows])
        logits = self.handle.model(**inputs, logits_to_keep=longest).logits
        self.stats["logit_rows"] += len(rows) * longest
        logp = torch.log_softmax(logits.double(), dim=-1)
        scores = []
        for n, cont in enumerate(e.continuations):
            span = logp[n, longest - len(cont):, :]
            picked = span.gather(-1, torch.tensor(cont, device=span.device)[:, None])
            scores.append(picked.sum().item())
        return np.asarray(scores, dtype=np.float64)

    @torch.inference_mode()
    def _seq2seq_item(self, e: EncodedQuery) -> np.ndarray:
        """Encoder reads the context once per label; decoder is teacher-forced on the label."""
        model = self.handle.model
        start = model.config.decoder_start_token_id
        longest = max(len(c) for c in e.continuations)
        dec = torch.full((len(e.continuations), longest), self.pad_id, dtype=torch.long)
        for n, cont in enumerate(e.continuations):
            dec[n, : len(cont)] = torch.tensor([start, *cont[:-1]])
        enc = torch.tensor([e.context] * len(e.continuations), device=self.device)
        self._count(enc.numel() + dec.numel(), enc.numel() * enc.shape[1] + dec.numel() * (
            dec.shape[1] + enc.shape[1]), dec.numel(), enc.numel() + dec.numel())
        logits = model(input_ids=enc, decoder_input_ids=dec.to(self.device)).logits
        logp = torch.log_softmax(logits.double(), dim=-1)
        scores = []
        for n, cont in enumerate(e.continuations):
            ids = torch.tensor(cont, device=logp.device)[:, None]
            scores.append(logp[n, : len(cont)].gather(-1, ids).sum().item())
        return np.asarray(scores, dtype=np.float64)
