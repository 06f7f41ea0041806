"""A real llama.cpp server (llama-cpp-python) serving the embedded SmolLM2 GGUF.

crosstune through the server is compared with crosstune's own in-process scores of the same
GGUF: llama.cpp runs the quantised kernels, crosstune the dequantised fp32 weights in torch, so
the numbers are close, not equal. Skipped where llama_cpp is not installed (`.ci/run` builds it).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from crosstune.engine.cache import ResultCache
from crosstune.errors import CrosstuneError
from crosstune.evaluate import EvalConfig, build_pairs, presentations
from crosstune.models import load_model
from crosstune.models.embedded import EMBEDDED
from crosstune.respondents.model import ModelRespondent
from crosstune.served.backend import connect
from crosstune.served.settings import ServedSettings
from tests.conftest import USER_HOME
from tests.llama_server import ALIAS, LlamaServer

pytest.importorskip("llama_cpp")
pytest.importorskip("llama_cpp.server.app")  # the [server] extra: fastapi, uvicorn

NAME = "smollm2-135m-instruct"
BIASES = ["anchoring", "framing_effect", "decoy_effect"]
MAX_PROB_DIFF = 0.15
MIN_ARGMAX_AGREEMENT = 0.85


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
def in_process(prompts):
    # The user's converted model, as the slow tests do, instead of converting in a scratch home.
    mp = pytest.MonkeyPatch()
    if USER_HOME:
        mp.setenv("CROSSTUNE_HOME", USER_HOME)
    else:
        mp.delenv("CROSSTUNE_HOME", raising=False)
    handle = load_model(NAME, device="cpu")
    mp.undo()
    return ModelRespondent(handle).answer(prompts)


def _settings(url: str, **extra) -> ServedSettings:
    return ServedSettings(model=ALIAS, base_url=url, tokenizer=NAME, retries=1, backoff=0.05,
                          **extra)


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
