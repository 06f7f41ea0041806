"""Language models: the next-token log-probability of each single-token lexicon word after a prompt.

Base models (plain format) read the raw prompt and the word follows after a space; instruct
models (chat format) read the chat template with its generation prompt and the word follows
directly. Words that are not one token there are dropped, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crosstune.engine import OptionQuery, OptionScorer, ResultCache
from crosstune.models.handle import ModelHandle
from crosstune.progress import Advance


def render(handle: ModelHandle, text: str) -> str:
    """The context the model continues: the chat template's user turn and generation prompt
    (ModelHandle.render, no cue), or for base models the raw prompt, the word after a space."""
    return handle.render(text, "") if handle.prompt_format == "chat" else text


def answer_form(handle: ModelHandle, word: str) -> str:
    """How a one-word answer is written after the context."""
    return word if handle.prompt_format == "chat" else f" {word}"


def vocabulary_words(decoded: list[str]) -> list[str]:
    """Every token's decoded text, stripped: what wildcards expand against."""
    return sorted({t.strip() for t in decoded if t.strip()})


def decoded_vocabulary(tokenizer) -> list[str]:
    """The decoded text of each token id (special tokens and broken bytes decode to '')."""
    special = set(tokenizer.all_special_ids)
    texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
    return ["" if i in special or "\ufffd" in t else t for i, t in enumerate(texts)]


@dataclass(frozen=True)
class WordTokens:
    """The lexicon words a model can score with one token, and the others with their reason."""

    ids: dict[str, int]
    dropped: pd.DataFrame
    """Columns: word, reason."""


def single_token_words(handle: ModelHandle, contexts: list[str], words: list[str]) -> WordTokens:
    """Words whose answer form is exactly one token after every context (the same token)."""
    tok = handle.tokenizer
    special = handle.add_special_tokens
    unk = tok.unk_token_id
    found: dict[str, set[int]] = {w: set() for w in words}
    reasons: dict[str, str] = {}
    for context in dict.fromkeys(contexts):
        base = tok(context, add_special_tokens=special)["input_ids"]
        wholes = tok([context + answer_form(handle, w) for w in words],
                     add_special_tokens=special)["input_ids"]
        for word, whole in zip(words, wholes, strict=True):
            tail = whole[len(base):] if whole[: len(base)] == base else None
            if tail is None:
                reasons.setdefault(word, "merges with the end of the prompt when tokenised")
            elif unk is not None and unk in tail:
                reasons.setdefault(word, "out of vocabulary (unknown token)")
            elif len(tail) != 1:
                reasons.setdefault(word, f"multi-token ({len(tail)} tokens)")
            else:
                found[word].add(tail[0])
    for word, ids in found.items():
        if word not in reasons and len(ids) != 1:
            reasons[word] = "a different token after different prompts"
    kept = {w: next(iter(ids)) for w, ids in found.items() if w not in reasons}
    return WordTokens(kept, pd.DataFrame(sorted(reasons.items()), columns=["word", "reason"]))


def score_words(handle: ModelHandle, contexts: list[str], tokens: WordTokens,
                cache: ResultCache | None = None, progress: Advance | None = None) -> np.ndarray:
    """log P(word | context) for every context (rows) and kept word (columns, in `tokens.ids` order):
    the words are the options, scored by the engine's OptionScorer."""
    words, ids = tuple(tokens.ids), tuple(tokens.ids.values())
    queries = [OptionQuery(c, words, ids) for c in contexts]
    return np.array(OptionScorer(handle, cache).logprobs(queries, progress))


def next_token_logprobs(handle: ModelHandle, contexts: list[str], decoded: list[str],
                        cache: ResultCache | None = None) -> list[np.ndarray]:
    """log P(token | context) for every token of the vocabulary (each token an option)."""
    n = min(len(decoded), handle.model.get_output_embeddings().weight.shape[0])
    every = tuple(decoded[:n]), tuple(range(n))
    return OptionScorer(handle, cache).logprobs([OptionQuery(c, *every) for c in contexts])
