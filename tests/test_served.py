"""Served models through a stand-in OpenAI-compatible server: same numbers, retries, resume, errors."""

from __future__ import annotations

import json
import logging
import math
import re
import socket
import time

import numpy as np
import pytest

from crosstune.engine.cache import ResultCache
from crosstune.errors import CrosstuneError
from crosstune.evaluate import EvalConfig, build_pairs, presentations, score_pairs
from crosstune.respondents.model import ModelRespondent
from crosstune.respondents.scripted import UNBIASED, Invariant, PositionalPrior, scripted_respondents
from crosstune.served.backend import connect
from crosstune.served.client import TokenChoice
from crosstune.served.letters import read_letters
from crosstune.served.settings import ServedSettings
from crosstune.suite.registry import select_biases
from tests.served_stub import LETTER_MASS, StubServer, run_cli, script

FAST = {"retries": 2, "backoff": 0.01, "timeout": 10.0}


@pytest.fixture(scope="module")
def built():
    return build_pairs(EvalConfig(pairs=1, seed=3))


def _settings(stub: StubServer, **extra) -> ServedSettings:
    return ServedSettings(model=stub.model, base_url=stub.url, **{**FAST, **extra})


def _connect(settings: ServedSettings, cache: ResultCache | None) -> ModelRespondent:
    """The served backend, checked, as the evaluation asks it."""
    return ModelRespondent(connect(settings, cache))


def _scores(respondent, pairs) -> np.ndarray:
    table, _ = score_pairs(respondent, pairs)
    return table[["score_expected", "score_choice", "score_linear"]].to_numpy(float)


def test_letters_are_summed_over_spellings_and_renormalised():
    top = [TokenChoice(token=" A", logprob=math.log(0.3)), TokenChoice(token="A", logprob=math.log(0.1)),
           TokenChoice(token=" B", logprob=math.log(0.4)), TokenChoice(token="The", logprob=math.log(0.2))]
    reading = read_letters(top, 3)
    np.testing.assert_allclose(reading.probs, [0.5, 0.5, 0.0])
    assert reading.mass == pytest.approx(0.8)
    assert reading.outside_top_k == 1
    assert np.isnan(read_letters([TokenChoice(token="The", logprob=0.0)], 2).probs).all()


@pytest.mark.parametrize("endpoint", ["completions", "chat", "chat-continue"])
def test_known_answer_respondents_score_the_same_through_a_server(built, endpoint, tmp_path):
    chosen = scripted_respondents() if endpoint == "completions" else [PositionalPrior(), Invariant()]
    prompts = presentations(built)
    offset = {b.name for b in select_biases(None) if b.zero_offset}
    for scripted in chosen:
        stub = StubServer(script(scripted, prompts)).start()
        try:
            served = _connect(_settings(stub, endpoint=endpoint),
                              ResultCache(tmp_path / f"{endpoint}.sqlite"))
            table, answers = score_pairs(served, built)
        finally:
            stub.stop()
        direct = _scores(scripted, built)
        got = table[["score_expected", "score_choice", "score_linear"]].to_numpy(float)
        np.testing.assert_allclose(got, direct, atol=1e-9, err_msg=scripted.name)
        assert table.valid_mass_control.to_numpy() == pytest.approx(LETTER_MASS)
        if scripted.name in UNBIASED:
            keep = ~table.bias.isin(offset).to_numpy()
            assert np.abs(got[keep]).max() < 1e-9, scripted.name
        if scripted.name == "always_first":  # every other letter had no mass: outside the top k
            assert all(a.outside_top_k == len(a.probs) - 1 for a in answers)
            first = table.iloc[0]
            assert list(first.outside_top_k_control_orders) == [len(first.probs_control) - 1] * 2


def test_429_and_500_are_retried_and_retry_after_is_honoured(built, tmp_path):
    prompts = presentations(built[:3])
    stub = StubServer(script(PositionalPrior(), prompts)).start()
    try:
        served = _connect(_settings(stub, concurrency=1, retries=3), None)
        stub.failures = [(429, {"Retry-After": "0.5"}), (500, {}), (503, {})]
        started = time.perf_counter()
        answers = served.answer(prompts)
        elapsed = time.perf_counter() - started
    finally:
        stub.stop()
    assert stub.failures == []
    assert elapsed >= 0.5
    expected = PositionalPrior().answer(prompts)
    for got, want in zip(answers, expected, strict=True):
        np.testing.assert_allclose(got.probs, want.probs, atol=1e-12)


def test_retries_give_up_with_one_line(built):
    stub = StubServer(script(PositionalPrior(), [])).start()
    try:
        served = _connect(_settings(stub, retries=1), None)
        stub.failures = [(500, {})] * 10
        with pytest.raises(CrosstuneError, match=r"still failing after 2 tries .*500.*run the same"):
            served.answer(presentations(built[:1]))
    finally:
        stub.stop()


def test_a_server_killed_mid_run_resumes_from_the_cache(built, tmp_path):
    prompts = presentations(built[:12])
    answer = script(PositionalPrior(), prompts)
    cache = ResultCache(tmp_path / "results.sqlite")
    first = StubServer(answer, die_after=1 + 20).start()  # the check request, then 20 answers
    served = _connect(_settings(first, concurrency=4, retries=1), cache)
    with pytest.raises(CrosstuneError, match="run the same command again"):
        served.answer(prompts)
    port = first.port
    time.sleep(0.2)
    second = StubServer(answer, port=port).start()
    try:
        again = _connect(_settings(second, concurrency=4), cache)
        assert again.backend.fingerprint == served.backend.fingerprint
        answers = again.answer(prompts)
    finally:
        second.stop()
    assert second.answered - 1 <= len(prompts) - 20 + 4  # at most the in-flight ones asked twice
    assert second.answered - 1 < len(prompts) - 10
    want = PositionalPrior().answer(prompts)
    for got, expected in zip(answers, want, strict=True):
        np.testing.assert_allclose(got.probs, expected.probs, atol=1e-12)


def test_a_server_without_logprobs_falls_back_to_generation_and_says_so(built, tmp_path):
    prompts = presentations(built[:4])
    stub = StubServer(script(PositionalPrior(), prompts), logprobs=False).start()
    try:
        served = _connect(_settings(stub), None)
        answers = served.answer(prompts)
    finally:
        stub.stop()
    assert not served.backend.scores_options and "no log-probabilities" in served.describe()["scoring"]
    assert all(a.probs[0] == 1.0 for a in answers)  # the stub generates its argmax: the first letter


def test_the_manifest_names_what_identifies_the_model(built, tmp_path):
    stub = StubServer(script(PositionalPrior(), []), fingerprint=None).start()
    try:
        served = _connect(_settings(stub, revision="v1.2"), None)
    finally:
        stub.stop()
    described = served.describe()
    assert described["weights_hashed"] is False
    assert "--revision 'v1.2'" in described["identified_by"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys) -> tuple[int, str, str]:
    return run_cli(["eval", "--pairs", "1", "--biases", "anchoring", *args], monkeypatch, capsys)


def test_bad_served_input_is_one_line_and_the_key_never_leaks(tmp_path, monkeypatch, capsys):
    secret = "sk-test-secret-98765"
    stub = StubServer(lambda text: np.array([0.7, 0.3]), api_key=secret).start()
    bare = StubServer(lambda text: np.array([0.7, 0.3]), logprobs=False).start()
    monkeypatch.setenv("MY_KEY", secret)
    monkeypatch.delenv("UNSET_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    dead = f"http://127.0.0.1:{_free_port()}/v1"
    cases = [
        (["--model", "served:stub-model", "--base-url", dead], "cannot reach"),
        (["--model", "served:other", "--base-url", stub.url, "--api-key-env", "MY_KEY"],
         "does not serve 'other'; it lists: stub-model"),
        (["--model", "served:stub-model", "--base-url", stub.url, "--api-key-env", "UNSET_KEY"],
         "UNSET_KEY, but that environment variable is not set"),
        (["--model", "served:stub-model", "--base-url", stub.url], "--api-key-env"),
        (["--model", "served:stub-model", "--base-url", bare.url, "--no-fallback"],
         "returned no log-probabilities"),
        (["--model", "served:stub-model", "--base-url", stub.url.removesuffix("/v1") + "/x",
          "--api-key-env", "MY_KEY"], "not found (404)"),
        (["--model", "smollm2-135m-instruct", "--base-url", stub.url], "only to --model served:ID"),
    ]
    try:
        for args, fragment in cases:
            code, said, shown = _cli(args, monkeypatch, capsys)
            lines = said.strip().splitlines()
            assert code == 2 and len(lines) == 1 and fragment in lines[0], (args, said)
            assert "Traceback" not in said and secret not in said + shown
        code, said, shown = _cli(["--model", "served:stub-model", "--base-url", stub.url, "--api-key-env",
                           "MY_KEY", "--out", "run"], monkeypatch, capsys)
    finally:
        stub.stop()
        bare.stop()
    assert code == 0, said
    assert secret not in said + shown and "position preference" in shown
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["model"]["weights_hashed"] is False
    assert "system_fingerprint 'fp-stub-1'" in manifest["model"]["identified_by"]
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) > 4 and not [p for p in written if secret.encode() in p.read_bytes()]


def test_retry_after_is_read_as_seconds_or_as_an_http_date():
    from email.utils import formatdate

    import httpx

    from crosstune.served.client import _retry_after

    def with_header(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": value})

    assert _retry_after(with_header("2.5")) == 2.5
    assert 8 <= _retry_after(with_header(formatdate(time.time() + 10, usegmt=True))) <= 10
    assert _retry_after(httpx.Response(503)) is None
    assert _retry_after(with_header("soon")) is None


def test_served_options_are_checked_before_any_request(monkeypatch):
    from crosstune.served.settings import served_settings

    assert served_settings("smollm2-135m-instruct", None) is None
    for model, url, fragment in [("served:", "http://x/v1", "needs the model id"),
                                 ("served:m", None, "needs --base-url"),
                                 ("served:m", "x:8000/v1", "--base-url: Value error, must start"),
                                 ("local-model", "http://x/v1", "only to --model served:ID")]:
        with pytest.raises(CrosstuneError, match=re.escape(fragment)):
            served_settings(model, url)
    with pytest.raises(CrosstuneError, match="--api-key-env applies only to --model served:ID"):
        served_settings("smollm2-135m-instruct", None, api_key_env="KEY", concurrency=8)
    with pytest.raises(CrosstuneError, match="--concurrency"):
        served_settings("served:m", "http://x/v1", concurrency=0)
    settings = served_settings("served:m", "http://x/v1/", revision="r1")
    assert settings is not None and settings.base_url == "http://x/v1"


def test_a_fingerprint_change_during_the_run_is_warned_and_recorded(built, caplog):
    prompts = presentations(built[:1])
    stub = StubServer(script(PositionalPrior(), prompts), fingerprint="fp-a").start()
    try:
        served = _connect(_settings(stub), None)
        stub.fingerprint = "fp-b"
        with caplog.at_level(logging.WARNING, logger="crosstune"):
            served.answer(prompts)
    finally:
        stub.stop()
    assert served.describe()["system_fingerprint"] == "fp-a"
    assert served.describe()["fingerprints_changed_to"] == ["fp-b"]
    assert sum("changed from fp-a to fp-b" in r.message for r in caplog.records) == 1


def test_a_server_that_ignores_continue_final_message_is_refused_naming_completions(built):
    stub = StubServer(script(PositionalPrior(), []), continues=False).start()
    try:
        with pytest.raises(CrosstuneError, match=r"ignores continue_final_message.*--endpoint "
                                                 "completions") as refused:
            connect(_settings(stub, endpoint="chat-continue"), None)
    finally:
        stub.stop()
    assert "\n" not in str(refused.value)


def test_logprobs_not_supported_is_final_at_once_and_names_the_fix(built):
    stub = StubServer(script(PositionalPrior(), []), refuse_logprobs=True).start()
    try:
        started = time.perf_counter()
        with pytest.raises(CrosstuneError, match="--logits_all true") as refused:
            connect(_settings(stub, retries=5, backoff=1.0), None)
        elapsed = time.perf_counter() - started
    finally:
        stub.stop()
    assert elapsed < 1.0  # not five retries with backoff
    assert "run the same command again" not in str(refused.value)
    assert stub.answered == 1


def test_completions_without_a_tokenizer_warns_once(built, caplog):
    from crosstune.served import backend

    backend._WARNED.discard("plain")
    stub = StubServer(script(PositionalPrior(), [])).start()
    try:
        with caplog.at_level(logging.WARNING, logger="crosstune"):
            connect(_settings(stub), None).close()
            connect(_settings(stub), None).close()
    finally:
        stub.stop()
    said = [r.getMessage() for r in caplog.records if "--tokenizer" in r.getMessage()]
    assert len(said) == 1 and "plain-text prompts" in said[0]


def test_retries_reach_the_progress_display(built):
    prompts = presentations(built[:1])
    stub = StubServer(script(PositionalPrior(), prompts)).start()
    notes: list[str] = []
    try:
        served = connect(_settings(stub, concurrency=1, retries=3), None)
        served.client.notify = notes.append
        stub.failures = [(503, {}), (429, {"Retry-After": "0"})]
        ModelRespondent(served).answer(prompts[:1])
    finally:
        stub.stop()
    assert len(notes) == 2
    assert notes[0].startswith("503") and "retry 1 of 3" in notes[0]
    assert notes[1].startswith("429") and "retry 2 of 3" in notes[1]
