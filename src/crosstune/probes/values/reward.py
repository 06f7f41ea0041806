"""Reward models (sequence classification): the scalar reward of each word as the whole reply.

Each (prompt, word) is rendered with the model's chat template as a user turn and an assistant
turn. Texts are batched by equal token length, so no padding is ever added and each score is
what the model gives the text on its own (its head pools the last non-pad token).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crosstune.engine.cache import ResultCache, cache_key, cached
from crosstune.errors import CrosstuneError
from crosstune.models.handle import tokenizer_digest, weights_digest
from crosstune.models.loader import pick_device, pick_dtype
from crosstune.progress import Advance

METHOD = "values-reward-v1"


@dataclass
class RewardModel:
    """A loaded sequence-classification model, the output read as the reward, and its fingerprint."""

    name: str
    model: Any
    tokenizer: Any
    source: str
    output_index: int
    fingerprint: str = ""

    def __post_init__(self) -> None:
        if not self.tokenizer.chat_template:
            raise CrosstuneError(f"reward model {self.name}: its tokenizer has no chat template, which "
                                 "is needed to render prompt and reply; use a reward model that has one")
        n_out = self.model.config.num_labels
        if not 0 <= self.output_index < n_out:
            raise CrosstuneError(f"reward model {self.name}: --output-index {self.output_index} is out "
                                 f"of range for a head with {n_out} output(s)")
        if not self.fingerprint:
            parts = {"weights": weights_digest(self.model), "tokenizer": tokenizer_digest(self.tokenizer),
                     "kind": "sequence-classification",
                     "dtype": str(next(self.model.parameters()).dtype)}
            self.fingerprint = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]

    def describe(self) -> dict[str, Any]:
        """Provenance for manifests."""
        return {"name": self.name, "source": self.source, "kind": "reward",
                "architecture": type(self.model).__name__, "output_index": self.output_index,
                "num_outputs": self.model.config.num_labels,
                "dtype": str(next(self.model.parameters()).dtype),
                "n_parameters": sum(p.numel() for p in self.model.parameters()),
                "fingerprint": self.fingerprint}


def pick_output(name: str, num_outputs: int, output_index: int | None) -> int:
    """Output 0 of a single-output head; a head with several outputs needs an explicit index."""
    if output_index is not None:
        return output_index
    if num_outputs == 1:
        return 0
    raise CrosstuneError(f"reward model {name} has a classification head with {num_outputs} outputs; "
                         "say which one is the reward with --output-index N")


def check_reward_spec(spec: str) -> None:
    """Refuse, before anything loads, a local reward-model path that is not there."""
    from crosstune.models.loader import _looks_local

    path = Path(spec).expanduser()
    if _looks_local(spec) and not path.exists():
        raise CrosstuneError(f"--reward-model {spec}: no such folder; give a folder with safetensors "
                             "weights of a sequence-classification model, or a hub id")
    if path.exists() and not path.is_dir():
        raise CrosstuneError(f"--reward-model {spec} is a file; give the model's folder")


_LM_HEADS = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration", "ForMaskedLM")


def _not_a_language_model(name: str, architectures: list[str]) -> None:
    """A checkpoint saved as a language model has no reward head: refuse it before loading."""
    if architectures and all(a.endswith(_LM_HEADS) for a in architectures):
        raise CrosstuneError(f"reward model {name} is a language model ({', '.join(architectures)}); "
                             "its checkpoint has no weights for a reward head, which would be random. "
                             "Score LMs with --model, reward models with --reward-model")


def _head_missing(name: str, info: dict[str, Any]) -> None:
    """A checkpoint without its head's weights (a causal LM, a base model) gets a random head:
    refuse it rather than score with noise."""
    missing = list(info.get("missing_keys", []))
    if missing:
        raise CrosstuneError(f"reward model {name}: its checkpoint has no weights for "
                             f"{', '.join(sorted(missing)[:3])} (the reward head would be random); "
                             "is it a causal LM? Score LMs with --model, reward models with --reward-model")


def load_reward_model(spec: str, output_index: int | None = None, device: str | None = None,
                      dtype: str | None = None, trust_remote_code: bool = False) -> RewardModel:
    """A local folder or hub id with safetensors weights, loaded with AutoModelForSequenceClassification."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    check_reward_spec(spec)
    target = pick_device(device)
    try:
        config = AutoConfig.from_pretrained(spec, trust_remote_code=trust_remote_code)
        _not_a_language_model(spec, config.architectures or [])
        index = pick_output(spec, config.num_labels, output_index)
        model, info = AutoModelForSequenceClassification.from_pretrained(
            spec, use_safetensors=True, trust_remote_code=trust_remote_code,
            dtype=pick_dtype(target, dtype), output_loading_info=True)
        tokenizer = AutoTokenizer.from_pretrained(spec, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as err:
        where = "folder" if Path(spec).exists() else "Hugging Face hub id (needs network)"
        raise CrosstuneError(f"cannot load reward model {spec!r} as a {where}: "
                             f"{str(err).splitlines()[0][:200]}; give a folder with safetensors weights "
                             "of a sequence-classification model") from err
    _head_missing(spec, info)
    return RewardModel(Path(spec).name or spec, model.to(target).eval(), tokenizer, spec, index)


def render_reply(rm: RewardModel, prompt: str, word: str) -> str:
    """The conversation (user prompt, assistant word) through the model's chat template."""
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": word}]
    return rm.tokenizer.apply_chat_template(messages, tokenize=False)


def score_texts(rm: RewardModel, texts: list[str], cache: ResultCache | None = None,
                batch_size: int = 32, progress: Advance | None = None) -> np.ndarray:
    """The reward of each rendered text, batched by equal length and cached by content."""
    keys = [cache_key(rm.fingerprint, METHOD, [t, rm.output_index]) for t in texts]
    # Without a pad id the head cannot pool a batch (transformers refuses); score one at a time.
    size = batch_size if rm.model.config.pad_token_id is not None else 1
    device = next(rm.model.parameters()).device

    def compute(todo: list[int]) -> Iterator[dict[int, float]]:
        encoded = {i: rm.tokenizer(texts[i], add_special_tokens=False)["input_ids"] for i in todo}
        by_length: dict[int, list[int]] = {}
        for i in todo:
            by_length.setdefault(len(encoded[i]), []).append(i)
        for members in by_length.values():
            for start in range(0, len(members), size):
                batch = members[start : start + size]
                ids = torch.tensor([encoded[i] for i in batch], device=device)
                with torch.inference_mode():
                    logits = rm.model(input_ids=ids).logits[:, rm.output_index]
                yield dict(zip(batch, logits.double().cpu().tolist(), strict=True))

    return np.array(cached(cache, keys, compute, progress), dtype=np.float64)
