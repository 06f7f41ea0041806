"""Turn a model name, folder, GGUF file or adapter into a ready ModelHandle."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch

from crosstune.choices import FormatChoice
from crosstune.cpu import warn_if_slow
from crosstune.errors import CrosstuneError
from crosstune.models.adapters import attach_adapter, read_adapter_config
from crosstune.models.embedded import EMBEDDED, cached_folder, ensure_converted
from crosstune.models.gguf import dequantised_from_gguf
from crosstune.models.handle import ModelHandle, ModelKind, PromptFormat

log = logging.getLogger(__name__)

_DTYPES = ("float32", "bfloat16", "float16")


def pick_device(device: str | None = None) -> torch.device:
    """The requested device (checked to exist here), else CUDA when present, else CPU."""
    if not device:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError as err:
        raise CrosstuneError(f"unknown --device {device!r}; use cpu, cuda or cuda:N") from err
    if chosen.type == "cuda" and (not torch.cuda.is_available()
                                  or (chosen.index or 0) >= torch.cuda.device_count()):
        raise CrosstuneError(f"--device {device} is not available on this machine "
                             f"({torch.cuda.device_count()} CUDA devices); use --device cpu")
    if chosen.type not in ("cpu", "cuda", "mps", "xpu"):
        raise CrosstuneError(f"--device {device} is not supported; use cpu or cuda")
    return chosen


def pick_dtype(device: torch.device, dtype: str | None = None) -> torch.dtype:
    """fp32 on CPU (bf16 is only fast there with AMX), bf16 on GPU, unless asked otherwise."""
    if dtype:
        if dtype not in _DTYPES:
            raise CrosstuneError(f"unknown dtype {dtype!r}; use one of {', '.join(_DTYPES)}")
        return getattr(torch, dtype)
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def _read_kind(folder: str, trust_remote_code: bool) -> ModelKind:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(folder, trust_remote_code=trust_remote_code)
    return "seq2seq" if getattr(config, "is_encoder_decoder", False) else "causal"


def _from_folder_or_hub(source: str, trust_remote_code: bool) -> tuple[Any, Any, ModelKind]:
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    where = "folder" if Path(source).exists() else "Hugging Face hub id (needs network)"
    try:
        kind = _read_kind(source, trust_remote_code)
        auto = AutoModelForSeq2SeqLM if kind == "seq2seq" else AutoModelForCausalLM
        model = auto.from_pretrained(
            source, dtype=torch.float32, use_safetensors=True, trust_remote_code=trust_remote_code
        )
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
    except Exception as err:  # transformers, safetensors and tokenizers raise many kinds
        first = (str(err).splitlines() or [type(err).__name__])[0][:200]
        raise CrosstuneError(
            f"cannot load model {source!r} as a {where}: {type(err).__name__}: {first}. "
            f"Use an embedded model ({', '.join(EMBEDDED)}), a local folder with complete "
            "safetensors weights, or a .gguf file"
        ) from err
    return model, tokenizer, kind


def _looks_local(spec: str) -> bool:
    """A path the user meant as local (so a missing one is an error, not a hub look-up)."""
    path = Path(spec).expanduser()
    if spec.startswith((".", "/", "~")) or path.exists() or spec.endswith(".gguf"):
        return True
    head = spec.split("/", 1)[0]
    return "/" in spec and Path(head).is_dir()


def _resolve_format(requested: FormatChoice, default: PromptFormat, tokenizer: Any) -> PromptFormat:
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if requested == "chat" and not has_template:
        raise CrosstuneError(
            "--format chat asked for, but this model's tokenizer has no chat template; "
            "use --format plain (base models) or a model with a chat template"
        )
    if requested != "auto":
        return requested
    return default if default == "plain" else ("chat" if has_template else "plain")


def check_model_spec(spec: str) -> None:
    """Refuse, without loading anything, a model spec that cannot be loaded from here."""
    path = Path(spec).expanduser()
    if spec in EMBEDDED:
        return
    if _looks_local(spec) and not path.exists():
        raise CrosstuneError(f"model path {spec} does not exist; see 'crosstune models list'")
    if path.is_file() and not spec.endswith(".gguf"):
        raise CrosstuneError(f"{spec} is a file but not a .gguf model; pass a model folder, "
                             "a .gguf file or an embedded name")
    if path.is_dir() and (path / "adapter_config.json").exists():
        read_adapter_config(path)
    elif not path.exists() and "/" not in spec:
        raise CrosstuneError(
            f"unknown model {spec!r}: not an embedded model ({', '.join(EMBEDDED)}), "
            "not a .gguf file, not a folder, not a hub id (org/name). See 'crosstune models list'"
        )


def load_model(
    spec: str,
    adapter: str | None = None,
    prompt_format: FormatChoice = "auto",
    device: str | None = None,
    dtype: str | None = None,
    trust_remote_code: bool = False,
) -> ModelHandle:
    """Load `spec`: an embedded name, a .gguf file, a local folder (model or adapter), or a hub id."""
    started = time.perf_counter()
    target = pick_device(device)
    default_format: PromptFormat = "chat"
    source = spec
    path = Path(spec).expanduser()
    check_model_spec(spec)
    if spec in EMBEDDED:
        source = str(ensure_converted(spec))
        default_format = EMBEDDED[spec].prompt_format
        model, tokenizer, kind = _from_folder_or_hub(source, False)
    elif path.is_file():
        model, tokenizer = dequantised_from_gguf(path)
        kind = "causal"
    elif path.is_dir() and (path / "adapter_config.json").exists():
        base = read_adapter_config(path).get("base_model_name_or_path")
        if not base:
            raise CrosstuneError(f"adapter {path} names no base model; load the base and pass --adapter")
        if adapter:
            raise CrosstuneError(f"{path} is itself an adapter; pass its base as --model")
        return load_model(base, str(path), prompt_format, device, dtype, trust_remote_code)
    else:
        model, tokenizer, kind = _from_folder_or_hub(spec, trust_remote_code)
    compute = "bfloat16" if target.type == "cpu" and dtype == "bfloat16" else None
    if compute:  # CPU: fp32 weights, bf16 matmul inputs (smaller error than bf16 weights)
        warn_if_slow(compute)
        dtype = "float32"
    model = model.to(device=target, dtype=pick_dtype(target, dtype)).eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    fmt = _resolve_format(prompt_format, default_format, tokenizer)
    handle = ModelHandle(spec, model, tokenizer, kind, fmt, source, compute_dtype=compute)
    if adapter:
        handle = attach_adapter(handle, Path(adapter).expanduser())
    handle.load_seconds = round(time.perf_counter() - started, 2)
    return handle


def load_tokenizer(spec: str, prompt_format: FormatChoice = "auto") -> ModelHandle:
    """A handle with the tokenizer, kind and prompt format `load_model` gives, but no weights: what
    token counts need before a run writes anything (an embedded model is not converted for it)."""
    from transformers import AutoTokenizer

    check_model_spec(spec)
    path = Path(spec).expanduser()
    if path.is_dir() and (path / "adapter_config.json").exists():
        base = read_adapter_config(path).get("base_model_name_or_path")
        if not base:
            raise CrosstuneError(f"adapter {path} names no base model; load the base and pass --adapter")
        return load_tokenizer(base, prompt_format)
    kind: ModelKind = "causal"
    try:
        if spec in EMBEDDED and not (cached_folder(spec) / "crosstune-source.json").exists():
            gguf = EMBEDDED[spec].locate()
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        elif path.is_file():
            tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        else:
            source = str(cached_folder(spec)) if spec in EMBEDDED else spec
            kind = _read_kind(source, False)
            tokenizer = AutoTokenizer.from_pretrained(source)
    except Exception as err:  # as in _from_folder_or_hub: transformers raises many kinds
        first = (str(err).splitlines() or [type(err).__name__])[0][:200]
        raise CrosstuneError(f"cannot load the tokenizer of model {spec!r}: {type(err).__name__}: "
                             f"{first}") from err
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    default_format = EMBEDDED[spec].prompt_format if spec in EMBEDDED else "chat"
    fmt = _resolve_format(prompt_format, default_format, tokenizer)
    return ModelHandle(spec, None, tokenizer, kind, fmt, spec, fingerprint="tokenizer only")
