"""Model loading: folders, adapters, GGUF errors, prompt formats, fingerprints."""

import pytest
import torch

from crosstune.errors import CrosstuneError
from crosstune.models import load_model


def test_local_folder_loads_as_fp32_causal_chat_model(saved_tiny_model):
    handle = load_model(str(saved_tiny_model), device="cpu")
    assert handle.kind == "causal"
    assert handle.prompt_format == "chat"  # the tokenizer has a template
    assert next(handle.model.parameters()).dtype == torch.float32


def test_plain_format_adds_no_template(saved_tiny_model):
    handle = load_model(str(saved_tiny_model), prompt_format="plain", device="cpu")
    assert handle.render("Q?", "Answer:") == "Q?\nAnswer:"


def test_fingerprint_is_stable_and_follows_the_weights(saved_tiny_model):
    a = load_model(str(saved_tiny_model), device="cpu")
    b = load_model(str(saved_tiny_model), device="cpu")
    assert a.fingerprint == b.fingerprint
    with torch.no_grad():
        next(b.model.parameters()).add_(1e-3)
    from crosstune.models.handle import model_fingerprint
    assert model_fingerprint(b) != a.fingerprint


def test_adapter_folder_loads_on_its_base_and_changes_the_fingerprint(saved_tiny_model, tmp_path):
    from peft import LoraConfig, get_peft_model

    base = load_model(str(saved_tiny_model), device="cpu")
    lora = get_peft_model(base.model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"],
                                                 init_lora_weights=False))
    lora.save_pretrained(tmp_path / "adapter")
    tuned = load_model(str(tmp_path / "adapter"), device="cpu")
    assert tuned.adapter == str(tmp_path / "adapter")
    plain = load_model(str(saved_tiny_model), device="cpu")
    assert tuned.fingerprint != plain.fingerprint


def test_chat_format_without_template_is_a_clear_error(saved_tiny_model):
    config = saved_tiny_model / "tokenizer_config.json"
    import json

    data = json.loads(config.read_text())
    data.pop("chat_template", None)
    config.write_text(json.dumps(data))
    (saved_tiny_model / "chat_template.jinja").unlink(missing_ok=True)
    with pytest.raises(CrosstuneError, match="no chat template"):
        load_model(str(saved_tiny_model), prompt_format="chat", device="cpu")


def test_unreadable_gguf_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf file at all")
    with pytest.raises(CrosstuneError, match="cannot read GGUF"):
        load_model(str(bad))


def test_unknown_model_lists_the_embedded_ones():
    with pytest.raises(CrosstuneError, match="smollm2-135m-instruct"):
        load_model("no-such-model")
