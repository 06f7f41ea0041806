"""A PEFT LoRA adapter (safetensors) as a GGUF LoRA adapter for llama.cpp's `lora_path`.

What llama.cpp's `convert_lora_to_gguf.py` does for Llama-architecture models, without its
repository: tensor names mapped to GGUF's (`blk.N.attn_q.weight.lora_a`), A as (r, in) and B as
(out, r) in float32, `adapter.lora.alpha` so llama.cpp scales by alpha / r as PEFT does, and the
rows of q and k's B permuted as the converter permutes those weights for rotary embeddings.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from crosstune.errors import CrosstuneError

_MODULES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
            "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
            "mlp.down_proj": "ffn_down"}
_NAME = re.compile(r"layers\.(\d+)\.(\w+\.\w+)\.lora_([AB])\.weight$")


def _permute(weights: np.ndarray, n_head: int) -> np.ndarray:
    """convert_hf_to_gguf's LlamaModel.permute on the output rows."""
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _field(reader, key: str):
    field = reader.fields.get(key)
    if field is None:
        return None
    value = field.parts[field.data[0]]
    return bytes(value).decode() if value.dtype == np.uint8 else value.item()


def llama_heads(base_gguf: Path) -> tuple[int, int]:
    """(attention heads, key-value heads) of a Llama-architecture GGUF; refuses any other."""
    import gguf

    reader = gguf.GGUFReader(str(base_gguf))
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise CrosstuneError(f"{base_gguf}: converting adapters for llama.cpp is done for the "
                             f"llama architecture only, not {arch!r}")
    n_head = int(_field(reader, "llama.attention.head_count"))
    return n_head, int(_field(reader, "llama.attention.head_count_kv") or n_head)


def adapter_to_gguf(adapter: Path, base_gguf: Path, out: Path,
                    heads: tuple[int, int] | None = None) -> Path:
    """Write `adapter` (a PEFT folder) as a GGUF LoRA for `base_gguf` (`heads`: its
    `llama_heads`, read once for many adapters); returns `out`."""
    import gguf
    from safetensors.numpy import load_file

    n_head, n_kv = heads or llama_heads(base_gguf)
    config = json.loads((adapter / "adapter_config.json").read_text())
    if config.get("use_rslora") or config.get("use_dora"):
        raise CrosstuneError(f"{adapter}: rsLoRA and DoRA adapters are not converted")
    tensors = load_file(str(adapter / "adapter_model.safetensors"))
    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(config["lora_alpha"]))
    for name in sorted(tensors):
        match = _NAME.search(name)
        if match is None or match.group(2) not in _MODULES:
            raise CrosstuneError(f"{adapter}: tensor {name} has no llama.cpp counterpart")
        layer, module, part = match.groups()
        data = tensors[name].astype(np.float32)
        if part == "B" and module == "self_attn.q_proj":
            data = _permute(data, n_head)
        elif part == "B" and module == "self_attn.k_proj":
            data = _permute(data, n_kv)
        writer.add_tensor(f"blk.{layer}.{_MODULES[module]}.weight.lora_{part.lower()}",
                          np.ascontiguousarray(data))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out
