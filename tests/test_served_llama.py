"""A real llama.cpp server (llama-cpp-python) serving the embedded SmolLM2 GGUF.

crosstune through the server is compared with crosstune's own in-process scores of the same
GGUF: llama.cpp runs the quantised kernels, crosstune the dequantised fp32 weights in torch, so
the numbers are close, not equal. Skipped where llama_cpp is not installed (`.ci/run` builds it).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crosstune.engine.cache import ResultCache
from crosstune.errors import CrosstuneError
from crosstune.evaluate import EvalConfig, build_pairs, presentations
from crosstune.models import load_model
from crosstune.models.embedded import EMBEDDED
from crosstune.probes.calibration.probe import score_questions
from crosstune.probes.questions import build_questions
from crosstune.respondents.model import ModelRespondent
from crosstune.served.backend import connect
from crosstune.served.settings import ServedSettings
from tests.conftest import USER_HOME
from tests.llama_server import ALIAS, LlamaServer
from tests.served_stub import run_cli

pytest.importorskip("llama_cpp")
pytest.importorskip("llama_cpp.server.app")  # the [server] extra: fastapi, uvicorn

NAME = "smollm2-135m-instruct"
BIASES = ["anchoring", "framing_effect", "decoy_effect"]
MAX_PROB_DIFF = 0.15
MIN_ARGMAX_AGREEMENT = 0.85
QUESTIONS = 3
GRID_SCORE_TOLERANCE = 0.1
"""Per-bias score of any model of the grid, served vs in process (measured 0.032, 2026-12-06)."""
SCORE_UNIT_TABLES = ("scores.csv", "movement.csv", "seed_sd.csv", "position_preference.csv")
"""Analysis tables in score units; shares, similarities and cluster indices of models that differ
by less than the measurement difference are not expected to agree (benchmarks/README.md)."""


@pytest.fixture(scope="module")
def gguf():
    return EMBEDDED[NAME].locate()


@pytest.fixture(scope="module")
def prompts():
    return presentations(build_pairs(EvalConfig(biases=BIASES, pairs=1, seed=0)))


@pytest.fixture(scope="module")
def server(gguf):
    running = LlamaServer(gguf).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def handle():
    # The user's converted model, as the slow tests do, instead of converting in a scratch home.
    mp = pytest.MonkeyPatch()
    if USER_HOME:
        mp.setenv("CROSSTUNE_HOME", USER_HOME)
    else:
        mp.delenv("CROSSTUNE_HOME", raising=False)
    loaded = load_model(NAME, device="cpu")
    mp.undo()
    return loaded


@pytest.fixture(scope="module")
def in_process(prompts, handle):
    return ModelRespondent(handle).answer(prompts)


def _tokenizer() -> str:
    """The user's converted model folder when there is one: its tokenizer loads in seconds, the
    GGUF's (what the embedded name means in a scratch home) in tens of seconds."""
    home = Path(USER_HOME) if USER_HOME else Path.home() / ".cache" / "crosstune"
    converted = home / "models" / NAME
    return str(converted) if (converted / "tokenizer_config.json").exists() else NAME


def _settings(url: str, **extra) -> ServedSettings:
    return ServedSettings(model=ALIAS, base_url=url, tokenizer=_tokenizer(),
                          **{"retries": 1, "backoff": 0.05, **extra})


def test_llama_server_letters_match_in_process_scores(server, prompts, in_process, tmp_path):
    served = ModelRespondent(connect(_settings(server.url), ResultCache(tmp_path / "results.sqlite")))
    answers = served.answer(prompts)
    got = np.array([a.probs for a in answers], dtype=object)
    diffs = [float(np.abs(np.asarray(s) - np.asarray(i.probs)).max())
             for s, i in zip(got, in_process, strict=True)]
    agree = np.mean([int(np.argmax(s)) == int(np.argmax(i.probs))
                     for s, i in zip(got, in_process, strict=True)])
    mass = np.mean([a.valid_mass for a in answers])
    outside = sum(a.outside_top_k for a in answers)
    print(json.dumps({"prompts": len(prompts), "largest_prob_diff": max(diffs),
                      "mean_prob_diff": float(np.mean(diffs)), "argmax_agreement": float(agree),
                      "letter_mass_served": float(mass),
                      "letter_mass_in_process": float(np.mean([a.valid_mass for a in in_process])),
                      "letters_outside_top_k": outside}))
    assert all(np.isclose(np.sum(a.probs), 1.0) for a in answers)
    assert max(diffs) < MAX_PROB_DIFF
    assert agree >= MIN_ARGMAX_AGREEMENT
    assert mass > 0.5


def _largest_diff(a: list, b: list) -> float:
    return max(float(np.abs(np.asarray(x) - np.asarray(y)).max()) for x, y in zip(a, b, strict=True))


def test_calibration_probe_through_llama_server_agrees_with_in_process(server, handle, tmp_path,
                                                                       monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, said, _ = run_cli(["probe", "calibration", "--model", f"served:{ALIAS}", "--base-url", server.url,
                             "--tokenizer", _tokenizer(), "--questions", str(QUESTIONS), "--one-order",
                             "--bootstrap", "20",
                             "--out", "cal"], monkeypatch, capsys)
    assert code == 0, said
    served = pd.read_parquet(tmp_path / "cal" / "answers.parquet")
    local = score_questions(handle, build_questions(None, QUESTIONS, 0), both_orders=False)
    diff = _largest_diff(list(served.probs), list(local.probs))
    metrics = pd.read_csv(tmp_path / "cal" / "metrics.csv").set_index("metric").value
    print(json.dumps({"calibration_largest_prob_diff": diff,
                      "brier_served": float(metrics["brier"]),
                      "brier_in_process": float(local.brier.mean())}))
    assert diff < MAX_PROB_DIFF
    assert abs(metrics["brier"] - local.brier.mean()) < MAX_PROB_DIFF
    manifest = json.loads((tmp_path / "cal" / "manifest.json").read_text())
    assert manifest["scorer"] == "served-next-token-v1"


@pytest.mark.slow  # about 50 s on a shared 2-core CPU: CoT sampling through the server
def test_faithfulness_probe_through_llama_server_reads_answers_as_in_process(server, handle,
                                                                             tmp_path):
    from crosstune.engine.local import LocalBackend
    from crosstune.probes.faithfulness import FAITHFULNESS, FaithfulnessConfig
    from crosstune.probes.faithfulness.cot import ModelRespondent as CotRespondent
    from crosstune.probes.interface import ModelRequest
    from crosstune.probes.runner import run_probe

    settings = _settings(server.url)
    questions = build_questions(None, 3, 0)
    cots = ["First, read the options carefully.", "", "The answer follows from the question."]
    served_backend = connect(settings, ResultCache(tmp_path / "results.sqlite"))
    served = CotRespondent(served_backend).read(questions, cots)
    local = CotRespondent(LocalBackend(handle)).read(questions, cots)
    served_backend.close()
    diff = _largest_diff(served, local)
    print(json.dumps({"faithfulness_reading_largest_prob_diff": diff}))
    assert diff < MAX_PROB_DIFF
    request = ModelRequest((f"served:{ALIAS}",), served=settings)
    config = FaithfulnessConfig(questions=2, samples=1, cot_tokens=12, max_sentences=2,
                                tests=["early", "filler"], filler_step=10, bootstrap=20)
    result = run_probe(FAITHFULNESS, request, config, tmp_path / "faith")
    readings = result.tables["readings.parquet"]
    assert "early" in set(readings.test) and readings.probs.map(len).min() >= 2
    assert not result.tables["filler.csv"].empty
    assert result.manifest["generation"] == "served-sampled-generation-v1"


def test_llama_server_ignores_continue_final_message_and_is_refused(server):
    settings = ServedSettings(model=ALIAS, base_url=server.url, endpoint="chat-continue", retries=0)
    with pytest.raises(CrosstuneError, match=r"ignores continue_final_message.*--endpoint completions"):
        connect(settings)


def test_llama_server_without_logits_all_is_a_final_refusal_naming_the_fix(gguf):
    bare = LlamaServer(gguf, logits_all=False).start()
    try:
        started = time.perf_counter()
        with pytest.raises(CrosstuneError, match="--logits_all true"):
            connect(_settings(bare.url, retries=5, backoff=1.0))
        elapsed = time.perf_counter() - started
    finally:
        bare.stop()
    assert elapsed < 5


def test_llama_server_killed_mid_run_resumes_from_the_cache(server, prompts, in_process, tmp_path):
    # Last in this module: it kills the module's server and starts it again on the same port.
    cache = ResultCache(tmp_path / "results.sqlite")
    some = prompts[:8]
    done: list[int] = []

    def kill_after_three(k: int) -> None:
        done.append(k)
        if sum(done) >= 3:
            server.stop()

    with pytest.raises(CrosstuneError, match="run the same command again"):
        ModelRespondent(connect(_settings(server.url, concurrency=2), cache)).answer(some, kill_after_three)
    server.start()
    counts: list[int] = []
    resumed = ModelRespondent(connect(_settings(server.url, concurrency=2), cache))
    resumed = resumed.answer(some, counts.append)
    assert counts[0] >= 3  # the first report is the answers found in the cache
    assert sum(counts) == len(some)
    agree = np.mean([int(np.argmax(s.probs)) == int(np.argmax(i.probs))
                     for s, i in zip(resumed, in_process[:8], strict=True)])
    assert agree >= MIN_ARGMAX_AGREEMENT


@pytest.mark.slow  # trains 4 LoRA finetunes of SmolLM2 (2 steps each): minutes on a 2-core CPU
def test_a_grid_evaluated_through_llama_cpp_aliases_gives_the_in_process_tables(tmp_path):
    from benchmarks.served_grid import main

    out = main(["--steps", "2", "--pairs", "1", "--biases", "anchoring,framing_effect,decoy_effect",
                "--tokenizer", _tokenizer(), "--work", str(tmp_path / "grid")])
    print(json.dumps(out))
    assert out["analysed"] == [True, True]
    assert out["largest_bias_score_diff"] < GRID_SCORE_TOLERANCE
    tables = out["analysis_tables_largest_diff"]
    assert all(tables[name] < GRID_SCORE_TOLERANCE for name in SCORE_UNIT_TABLES)
