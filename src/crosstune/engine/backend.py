"""The one model interface: every consumer (eval, the probes, a run's evaluation) takes a Backend.

Like lm-eval's three-method `LM`: option log-probabilities after a context, greedy generation
and sampled generation. A context is a user turn and the start of the model's reply (the answer
cue, a chain of thought), not rendered text, so a chat server can take it as messages while a
local model or a completions server renders it with its chat template. Identity comes from the
backend (`fingerprint`, `describe()`): weights hashed where they can be, what stands in for them
where they cannot.

A new backend is one module with an `open_backend(spec, options, cache) -> Backend` function
and one line in `BACKENDS` naming it under the `--model PREFIX:ID` it answers to.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from crosstune.choices import FormatChoice
from crosstune.errors import CrosstuneError
from crosstune.progress import Advance

if TYPE_CHECKING:  # served/ implements a backend: it sits above engine/, which only names its settings
    from crosstune.served.settings import ServedSettings


@dataclass(frozen=True)
class Context:
    """A user turn and the start of the model's reply; the text after it is what is scored."""

    user: str
    reply: str = ""


@dataclass(frozen=True)
class Batching:
    """How a local model batches its forward passes (a server batches on its own)."""

    token_budget: int = 2048
    """Max padded tokens per scoring batch."""
    batch_size: int = 8
    """Sequences per generation batch."""


DEFAULT_BATCHING = Batching()


@dataclass(frozen=True)
class Sampling:
    """Sampled generation: what the samples depend on besides the context."""

    max_new_tokens: int = 64
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0


@runtime_checkable
class Backend(Protocol):
    """Anything that reads option probabilities and writes text: a loaded model or a server."""

    name: str
    fingerprint: str
    """Keys every cached result and names the evaluation folder's model."""
    load_seconds: float
    scores_options: bool
    """False: option log-probabilities are not available (a server without them)."""

    def describe(self) -> dict[str, Any]:
        """Identity and provenance for manifests; holds 'fingerprint'."""
        ...

    def method_name(self, generate: bool) -> str:
        """How answers are read (the manifest's scorer and the cache's method)."""
        ...

    def text(self, context: Context) -> str:
        """The exact text (or message list, as JSON) the model reads for `context`."""
        ...

    def option_logprobs(self, contexts: Sequence[Context], labels: Sequence[tuple[str, ...]],
                        progress: Advance | None = None) -> list[np.ndarray]:
        """log P(label | context) per label (raw, not renormalised; -inf where unseen)."""
        ...

    def generate(self, contexts: Sequence[Context], max_new_tokens: int,
                 progress: Advance | None = None) -> list[str]:
        """Greedy continuations."""
        ...

    def sample(self, contexts: Sequence[Context], count: int, sampling: Sampling,
               progress: Advance | None = None) -> list[list[str]]:
        """`count` sampled continuations of each context, reproducible from `sampling.seed`."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` (a tokenizer's count, or an estimate where there is none)."""
        ...

    def close(self) -> None:
        """Release connections (a loaded model is kept until dropped)."""
        ...


@dataclass(frozen=True)
class BackendOptions:
    """How to open a model: the local loader's options and, for `served:ID`, the server's."""

    adapter: str | None = None
    prompt_format: FormatChoice = "auto"
    device: str | None = None
    dtype: str | None = None
    trust_remote_code: bool = False
    served: ServedSettings | None = None
    """The server's settings (any model id: the spec's id replaces it)."""
    generate: bool = False
    """Served: only generation will be asked for (no log-probability check)."""
    batching: Batching = DEFAULT_BATCHING
    """A local model's batching."""
    notify: Callable[[str], None] | None = field(default=None, compare=False)
    """Passing remarks for the progress display (a served request being retried)."""

    def with_served_model(self, model: str) -> ServedSettings:
        if self.served is None:
            raise CrosstuneError(f"--model served:{model} needs --base-url, "
                                 "e.g. http://127.0.0.1:8000/v1")
        return self.served.model_copy(update={"model": model})

    def without_adapter(self) -> BackendOptions:
        return replace(self, adapter=None)


Opener = Callable[[str, BackendOptions, Any], Backend]

BACKENDS: dict[str, str] = {
    "served": "crosstune.served.backend:open_backend",
}
"""`--model PREFIX:ID` → the module:function that opens it. Anything else is a local model."""
LOCAL = "crosstune.engine.local:open_backend"


def backend_kind(spec: str) -> str | None:
    """The registered prefix of `spec` (`served` for `served:ID`), None for a local model."""
    head, sep, _ = spec.partition(":")
    return head if sep and head in BACKENDS else None


def opener(spec: str) -> Opener:
    path = BACKENDS[backend_kind(spec)] if backend_kind(spec) else LOCAL
    module, _, function = path.partition(":")
    return getattr(importlib.import_module(module), function)


def open_backend(spec: str, options: BackendOptions | None = None, cache: Any = None) -> Backend:
    """The backend `spec` names, opened (loaded, or its server checked)."""
    return opener(spec)(spec, options or BackendOptions(), cache)
