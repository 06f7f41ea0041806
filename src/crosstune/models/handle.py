"""A loaded model with what it takes to prompt it and to name its results unambiguously."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

PromptFormat = Literal["chat", "plain"]
ModelKind = Literal["causal", "seq2seq"]


@dataclass
class ModelHandle:
    """Model + tokenizer + how prompts are built; `fingerprint` keys every cached result."""

    name: str
    model: Any
    tokenizer: Any
    kind: ModelKind
    prompt_format: PromptFormat
    source: str
    adapter: str | None = None
    fingerprint: str = ""
    base_fingerprint: str = ""
    """The fingerprint without any adapter: adapters are identified on top of it."""
    load_seconds: float = 0.0
    compute_dtype: str | None = None
    """bfloat16: fp32 weights, bf16 matmul inputs (CPU with AMX; engine/precision.py)."""

    def __post_init__(self) -> None:
        if not self.fingerprint:
            self.fingerprint = model_fingerprint(self)
        if not self.base_fingerprint:
            self.base_fingerprint = self.fingerprint

    def render_turns(self, turns: Sequence[tuple[str, str]]) -> str:
        """The context before the model's reply: chat template, or the turns' text line by line.

        Training and evaluation both render through here, so a finetune sees the format it is
        evaluated in.
        """
        return render_turns(self.tokenizer, self.prompt_format, turns)

    def render(self, user_text: str, cue: str) -> str:
        """One user turn, then the answer cue (the bias suite's and the probes' prompts)."""
        return self.render_turns([("user", user_text)]) + cue

    @property
    def add_special_tokens(self) -> bool:
        """Chat templates write their own BOS; plain prompts let the tokenizer add it."""
        return self.prompt_format == "plain"

    def describe(self) -> dict[str, Any]:
        """Provenance for manifests."""
        return {
            "name": self.name,
            "source": self.source,
            "adapter": self.adapter,
            "kind": self.kind,
            "prompt_format": self.prompt_format,
            "dtype": str(next(self.model.parameters()).dtype),
            "compute_dtype": self.compute_dtype,
            "architecture": type(self.model).__name__,
            "n_parameters": sum(p.numel() for p in self.model.parameters()),
            "fingerprint": self.fingerprint,
            "base_fingerprint": self.base_fingerprint,
        }


def render_turns(tokenizer: Any, prompt_format: PromptFormat, turns: Sequence[tuple[str, str]]) -> str:
    """ModelHandle.render_turns without a loaded model (a served model rendered locally)."""
    if prompt_format == "chat":
        return tokenizer.apply_chat_template(
            [{"role": role, "content": content} for role, content in turns],
            tokenize=False, add_generation_prompt=True)
    return "".join(f"{content}\n" for _, content in turns)


def weights_digest(model: torch.nn.Module) -> str:
    """sha256 over every parameter and buffer (name, dtype, shape, bytes): adapters included."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        digest.update(t.view(torch.uint8).numpy().data if t.numel() else b"")
    return digest.hexdigest()


def tokenizer_digest(tokenizer: Any) -> str:
    """sha256 of the full tokenizer definition, special tokens and chat template."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    body = backend.to_str() if backend is not None else json.dumps(
        sorted(tokenizer.get_vocab().items())
    )
    extra = json.dumps(
        {
            "special": tokenizer.special_tokens_map,
            "template": getattr(tokenizer, "chat_template", None),
            "padding_side": tokenizer.padding_side,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256((body + extra).encode()).hexdigest()


def model_fingerprint(handle: ModelHandle) -> str:
    """One id for weights + adapter + dtype + tokenizer + template + prompt format."""
    parts = {
        "weights": weights_digest(handle.model),
        "tokenizer": tokenizer_digest(handle.tokenizer),
        "kind": handle.kind,
        "prompt_format": handle.prompt_format,
        "dtype": str(next(handle.model.parameters()).dtype),
        "compute_dtype": handle.compute_dtype,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]
