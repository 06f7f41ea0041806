"""Context/continuation tokenisation, identical to lm-evaluation-harness so scores compare."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EncodedQuery:
    """Token ids of one context and of each of its candidate continuations."""

    context: list[int]
    continuations: tuple[tuple[int, ...], ...]

    @property
    def single_token(self) -> bool:
        return all(len(c) == 1 for c in self.continuations)


def encode_causal(tokenizer: Any, context: str, labels: tuple[str, ...], special: bool) -> EncodedQuery:
    """Trailing spaces move into the continuation; continuation ids = whole[len(context):]."""
    stripped = context.rstrip()
    moved = context[len(stripped):]
    ctx_ids = tokenizer(stripped, add_special_tokens=special)["input_ids"]
    conts = []
    for label in labels:
        whole = tokenizer(stripped + moved + label, add_special_tokens=special)["input_ids"]
        conts.append(tuple(whole[len(ctx_ids):]))
    return EncodedQuery(ctx_ids, tuple(conts))


def encode_given(tokenizer: Any, context: str, token_ids: tuple[int, ...], special: bool) -> EncodedQuery:
    """The context as it stands; each label is the one token the caller gives."""
    return EncodedQuery(tokenizer(context, add_special_tokens=special)["input_ids"],
                        tuple((i,) for i in token_ids))


def encode_seq2seq(tokenizer: Any, context: str, labels: tuple[str, ...]) -> EncodedQuery:
    """Encoder gets the context; each label is the decoder target on its own."""
    ctx_ids = tokenizer(context, add_special_tokens=True)["input_ids"]
    conts = tuple(
        tuple(tokenizer(label, add_special_tokens=False)["input_ids"]) for label in labels
    )
    return EncodedQuery(ctx_ids, conts)
