"""A stand-in OpenAI-compatible server on 127.0.0.1, answering as a scripted respondent.

It reads the user text back out of each request, looks the prompt up, and returns the
respondent's letter distribution as next-token top log-probabilities: part of each letter's
mass as " A" and part as "A", and some mass on a token that is no letter, so the client's
matching and renormalising are exercised. It can fail on purpose (status codes in a queue,
no log-probabilities, a required key, dying after a number of answers).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from crosstune.respondents.base import Prompt, Respondent
from crosstune.served.backend import CHAT_INSTRUCTION, CONTINUE_REPLY
from crosstune.suite.prompts import ANSWER_CUE
from crosstune.suite.types import OPTION_LABELS


def run_cli(argv: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    """`crosstune ARGV...` in this process (a subprocess pays torch's import every time):
    (exit code, stderr, stdout)."""
    import logging
    import sys

    import pytest

    from crosstune.cli import main

    root = logging.getLogger()
    handlers = list(root.handlers)
    monkeypatch.setattr(sys, "argv", ["crosstune", *argv])
    try:
        with pytest.raises(SystemExit) as exited:
            main()
    finally:
        for handler in set(root.handlers) - set(handlers):
            root.removeHandler(handler)
            handler.close()
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.err, captured.out


LETTER_MASS = 0.8
"""Mass the stub puts on letters; the rest goes to a non-letter token."""


def script(respondent: Respondent, prompts: Sequence[Prompt]) -> Callable[[str], np.ndarray]:
    """user text -> the respondent's probabilities by presented position."""
    answers = {p.text: a.probs for p, a in zip(prompts, respondent.answer(prompts), strict=True)}
    return lambda text: answers.get(text, np.array([0.5, 0.5]))


class StubServer:
    """Start with `start()`; `url` is its /v1 base. Counts the answers it gave."""

    def __init__(self, answer: Callable[[str], np.ndarray], model: str = "stub-model",
                 port: int = 0, logprobs: bool = True, api_key: str | None = None,
                 fingerprint: str | None = "fp-stub-1", die_after: int | None = None,
                 continues: bool = True, refuse_logprobs: bool = False):
        self.answer = answer
        self.model = model
        self.logprobs = logprobs
        self.api_key = api_key
        self.fingerprint = fingerprint
        self.die_after = die_after
        self.continues = continues
        """chat-continue: continue a partial assistant turn (vLLM) or open a new one (llama.cpp)."""
        self.refuse_logprobs = refuse_logprobs
        """Answer a log-probability request with llama.cpp's 500 'logprobs is not supported'."""
        self.failures: list[tuple[int, dict[str, str]]] = []
        """(status, headers) returned, in order, before any real answer."""
        self.answered = 0
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> StubServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if not stub._authorised(self):
                    return
                if self.path == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": stub.model}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if not stub._authorised(self):
                    return
                with stub._lock:
                    if stub.failures:
                        status, headers = stub.failures.pop(0)
                        self._send(status, {"error": {"message": f"scripted {status}"}}, headers)
                        return
                    if stub.die_after is not None and stub.answered >= stub.die_after:
                        self.close_connection = True
                        threading.Thread(target=stub.stop, daemon=True).start()
                        return
                    stub.answered += 1
                    stub.requests.append(body)
                if body.get("model") != stub.model:
                    self._send(404, {"error": {"message": f"The model {body.get('model')} does "
                                                          "not exist."}})
                    return
                chat = self.path == "/v1/chat/completions"
                if stub.refuse_logprobs and body.get("logprobs"):
                    self._send(500, {"error": {"message": "logprobs is not supported for models "
                                                          "created with logits_all=False"}})
                    return
                if chat and body["messages"][-1]["content"] == CONTINUE_REPLY:
                    said = " 9," if stub.continues and body.get("continue_final_message") else "1, 2"
                    self._send(200, {"id": "stub", "model": stub.model, "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": said}}]})
                    return
                text = stub._user_text(body, chat)
                self._send(200, stub._reply(stub.answer(text), body, chat))

            def _send(self, status: int, data: dict[str, Any], headers: dict[str, str] | None = None
                      ) -> None:
                blob = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(blob)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(blob)

        return Handler

    def _authorised(self, handler: BaseHTTPRequestHandler) -> bool:
        if self.api_key is None or handler.headers.get("Authorization") == f"Bearer {self.api_key}":
            return True
        handler._send(401, {"error": {"message": "Incorrect API key provided"}})  # type: ignore[attr-defined]
        return False

    @staticmethod
    def _user_text(body: dict[str, Any], chat: bool) -> str:
        if not chat:
            return body["prompt"].removesuffix(f"\n{ANSWER_CUE}")
        return body["messages"][0]["content"].removesuffix(f"\n{CHAT_INSTRUCTION}")

    def _reply(self, probs: np.ndarray, body: dict[str, Any], chat: bool) -> dict[str, Any]:
        top: dict[str, float] = {"The": math.log(1 - LETTER_MASS)}
        for i, p in enumerate(probs):
            if p > 0:  # a letter without mass is left out, as outside the top k
                letter = OPTION_LABELS[i]
                top[f" {letter}" if not chat else letter] = math.log(LETTER_MASS * p * 0.75)
                top[letter if not chat else f" {letter}"] = math.log(LETTER_MASS * p * 0.25)
        best = OPTION_LABELS[int(np.argmax(probs))]
        wants = body.get("logprobs") and self.logprobs
        reply: dict[str, Any] = {"id": "stub", "model": self.model,
                                 "system_fingerprint": self.fingerprint}
        if chat:
            content = [{"token": best, "logprob": 0.0,
                        "top_logprobs": [{"token": t, "logprob": lp} for t, lp in top.items()]}]
            reply["choices"] = [{"index": 0, "message": {"role": "assistant", "content": best},
                                 "logprobs": {"content": content} if wants else None}]
        else:
            reply["choices"] = [{"index": 0, "text": f" {best}",
                                 "logprobs": {"tokens": [f" {best}"], "top_logprobs": [top]}
                                 if wants else None}]
        return reply
