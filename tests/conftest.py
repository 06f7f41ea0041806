"""Tiny models built from a config, with a tokenizer trained here: no download, seconds to build."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    T5Config,
    T5ForConditionalGeneration,
)

from crosstune.models.handle import ModelHandle
from crosstune.suite.prompts import user_prompt
from crosstune.suite.registry import all_biases

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def _corpus() -> list[str]:
    texts = []
    for bias in all_biases():
        for pair in bias.generate(3, 0):
            texts += [user_prompt(pair, "control"), user_prompt(pair, "treatment")]
    return texts + [f"Answer: Option {c}" for c in "ABCDEFGHIJK" for _ in range(20)]


@pytest.fixture(scope="session")
def tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1000, special_tokens=["<pad>", "<s>", "</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_corpus(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>", unk_token="<unk>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_llama(vocab_size: int, seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=1024, bos_token_id=1, eos_token_id=2,
                         pad_token_id=0)
    return LlamaForCausalLM(config).eval()


@pytest.fixture
def causal_handle(tokenizer) -> ModelHandle:
    return ModelHandle("tiny-llama", tiny_llama(len(tokenizer)), tokenizer, "causal", "chat",
                       "config")


@pytest.fixture
def plain_handle(tokenizer) -> ModelHandle:
    return ModelHandle("tiny-llama-plain", tiny_llama(len(tokenizer), seed=1), tokenizer,
                       "causal", "plain", "config")


@pytest.fixture
def seq2seq_handle(tokenizer) -> ModelHandle:
    torch.manual_seed(0)
    config = T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2,
                      num_heads=4, decoder_start_token_id=0, pad_token_id=0, eos_token_id=2)
    model = T5ForConditionalGeneration(config).eval()
    return ModelHandle("tiny-t5", model, tokenizer, "seq2seq", "plain", "config")


@pytest.fixture
def saved_tiny_model(tokenizer, tmp_path: Path) -> Path:
    folder = tmp_path / "tiny-model"
    tiny_llama(len(tokenizer)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


USER_HOME = os.environ.get("CROSSTUNE_HOME")


@pytest.fixture(autouse=True)
def restore_torch_threads():
    """A test may set the thread count; the next one starts from the same count."""
    count = torch.get_num_threads()
    yield
    torch.set_num_threads(count)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "crosstune-home"
    monkeypatch.setenv("CROSSTUNE_HOME", str(home))
    return home



@pytest.fixture
def cli_in_process(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """`crosstune ARGS` through its own entry point, in this process, from folder `cwd`: returns
    (exit code, stderr). A Python start per bad-input case would be most of the suite's time; an
    exception that escapes the entry point fails the test, as its traceback would in a terminal."""
    from crosstune.cli import main

    def run(args: list[str], cwd: Path) -> tuple[int | str | None, str]:
        monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", ["crosstune", *args])
        capsys.readouterr()
        with pytest.raises(SystemExit) as stopped:
            main()
        return stopped.value.code, capsys.readouterr().err

    return run


def assert_one_clear_line(code: int | str | None, stderr: str, fragment: str) -> None:
    """The bad-input standard: exit 2 and one line on stderr that names the problem."""
    assert code == 2, stderr
    assert fragment in stderr, stderr
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
