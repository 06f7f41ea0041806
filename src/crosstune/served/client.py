"""One OpenAI-compatible server over HTTP: the next token's top log-probabilities, with retries.

Only the ordinary generation path is used (`max_tokens`, `logprobs`/`top_logprobs`), never
prompt log-probabilities (`echo`): llama.cpp refuses `echo`, and vLLM skips its prefix cache
for it. Every failure a user can fix is one CrosstuneError line; the API key never appears in
one (nor in a log record: it travels only in the Authorization header).
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

import httpx
from pydantic import BaseModel

from crosstune.errors import CrosstuneError
from crosstune.served.settings import ServedSettings

log = logging.getLogger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise

RETRIED_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_WAIT_S = 300.0
"""The longest Retry-After honoured; a server asking for more is waited on this long."""


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class Query(BaseModel):
    """What one request asks: a rendered prompt (completions) or messages (chat)."""

    prompt: str | None = None
    messages: list[Message] | None = None
    continue_final: bool = False
    """Chat: the last (assistant) message is a partial turn to continue (vLLM's option)."""


class TokenChoice(BaseModel):
    token: str
    logprob: float


class Reply(BaseModel):
    """What the server said: the generated text and the first token's top log-probabilities."""

    text: str
    top: list[TokenChoice] | None
    """None: the server returned no log-probabilities."""
    fingerprint: str | None = None
    """The server's `system_fingerprint`, where it reports one."""


class ServedClient:
    """Thread-safe: one connection pool shared by the respondent's worker threads."""

    def __init__(self, settings: ServedSettings, notify: Callable[[str], None] | None = None):
        self.settings = settings
        self.notify = notify
        """Told of every retry, so the progress display shows it (not only the log)."""
        self._secret = settings.api_key()
        self.stopped = threading.Event()
        """Set when the run stops: requests in flight give up instead of retrying."""
        headers = {"Authorization": f"Bearer {self._secret}"} if self._secret else {}
        self._http = httpx.Client(
            base_url=settings.base_url, headers=headers, timeout=settings.timeout,
            limits=httpx.Limits(max_connections=settings.concurrency,
                                max_keepalive_connections=settings.concurrency))

    def close(self) -> None:
        self._http.close()

    def models(self) -> list[str]:
        """Ids the server lists; a wrong URL or a refused key is said here, before any work."""
        data = self._request("GET", "/models", None, retry=False)
        return [str(m.get("id")) for m in data.get("data", []) if isinstance(m, dict)]

    def ask(self, query: Query, logprobs: bool, max_tokens: int, temperature: float = 0.0,
            top_p: float = 1.0, seed: int | None = None) -> Reply:
        """Next token(s) for one query, greedy unless a temperature is given; top-k
        log-probabilities of the first if asked."""
        s = self.settings
        body: dict[str, Any] = {"model": s.model, "max_tokens": max_tokens,
                                "temperature": temperature}
        if temperature > 0:
            body.update(top_p=top_p, **({"seed": seed} if seed is not None else {}))
        if query.prompt is not None:
            body["prompt"] = query.prompt
            if logprobs:
                body["logprobs"] = s.top_logprobs
            return _completion_reply(self._request("POST", "/completions", body))
        body["messages"] = [m.model_dump() for m in query.messages or []]
        if query.continue_final:
            body.update(continue_final_message=True, add_generation_prompt=False)
        if logprobs:
            body.update(logprobs=True, top_logprobs=s.top_logprobs)
        return _chat_reply(self._request("POST", "/chat/completions", body))

    def _request(self, method: str, path: str, body: dict[str, Any] | None,
                 retry: bool = True) -> dict[str, Any]:
        where = f"{self.settings.base_url}{path}"
        tries = 1 + (self.settings.retries if retry else 0)
        last = ""
        for attempt in range(tries):
            if self.stopped.is_set():
                raise CrosstuneError("stopped")
            wait = self.settings.backoff * 2**attempt * (0.5 + random.random())
            try:
                response = self._http.request(method, path, json=body)
            except httpx.TimeoutException:
                last = f"no answer within --timeout {self.settings.timeout:g}s"
            except httpx.TransportError as err:
                if not retry:
                    raise CrosstuneError(f"cannot reach {where} ({self._clean(err)}); is the "
                                         "server running and --base-url right?") from None
                last = f"connection failed ({self._clean(err)})"
            else:
                if response.status_code < 400:
                    return self._json(response, where)
                if response.status_code not in RETRIED_STATUS or _unsupported(response):
                    raise self._refused(response, where)
                last = f"{response.status_code} {self._message(response)}"
                wait = _retry_after(response) or wait
            if attempt + 1 < tries:
                log.info("%s: %s; retry %d of %d in %.1fs", where, last, attempt + 1, tries - 1, wait)
                if self.notify:
                    self.notify(f"{last[:60]}; retry {attempt + 1} of {tries - 1} in {wait:.0f}s")
                self.stopped.wait(min(wait, MAX_WAIT_S))
        raise CrosstuneError(f"{where} still failing after {tries} tries (last: {last}); the "
                             "answers received so far are cached: run the same command again "
                             "to resume")

    def _json(self, response: httpx.Response, where: str) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise CrosstuneError(f"{where} did not answer with a JSON object; is --base-url an "
                                 "OpenAI-compatible API (usually ending in /v1)?")
        return data

    def _refused(self, response: httpx.Response, where: str) -> CrosstuneError:
        status, message = response.status_code, self._message(response)
        if status in (401, 403):
            fix = (f"check the key in ${self.settings.api_key_env}" if self._secret
                   else "pass the key's environment variable with --api-key-env NAME")
            return CrosstuneError(f"{where} refused the request ({status}: {message}); {fix}")
        if status == 404 and where.endswith("/models"):
            return CrosstuneError(f"{where} was not found (404); --base-url should be the "
                                  "OpenAI-compatible base, usually ending in /v1")
        if "logprob" in message.lower() and (status in (400, 404) or _unsupported(response)):
            return CrosstuneError(f"{where} cannot give log-probabilities ({status}: {message}); "
                                  "a retry cannot change that: start the server with them on "
                                  "(llama.cpp: --logits_all true; vLLM: --max-logprobs at least "
                                  f"--top-logprobs {self.settings.top_logprobs}) or pass "
                                  "--method generate")
        if _unsupported(response):
            return CrosstuneError(f"{where} does not support this request ({status}: {message}); "
                                  "a retry cannot change that")
        return CrosstuneError(f"{where} rejected the request ({status}: {message})")

    def _message(self, response: httpx.Response) -> str:
        """The server's error message, one line, without the key."""
        try:
            data = response.json()
        except ValueError:
            data = None
        text = response.reason_phrase or ""
        if isinstance(data, dict):
            inner = data.get("error") or data.get("detail") or data.get("message")
            if isinstance(inner, dict):
                inner = inner.get("message") or inner.get("detail")
            text = str(inner) if inner else text
        return self._clean(text)[:300]

    def _clean(self, value: object) -> str:
        text = " ".join(str(value).split())
        return text.replace(self._secret, "***") if self._secret else text


def _unsupported(response: httpx.Response) -> bool:
    """A refusal that is final whatever its status: the server says it does not support it."""
    return response.status_code in (400, 404, 500, 501) and "not supported" in response.text.lower()


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked to wait (Retry-After as seconds or as an HTTP date)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _first_choice(data: dict[str, Any]) -> dict[str, Any]:
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise CrosstuneError("the server's reply has no choices; is it an OpenAI-compatible API?")
    return choices[0]


def _completion_reply(data: dict[str, Any]) -> Reply:
    choice = _first_choice(data)
    logprobs = choice.get("logprobs") or {}
    tops = logprobs.get("top_logprobs") if isinstance(logprobs, dict) else None
    top = None
    if isinstance(tops, list) and tops and isinstance(tops[0], dict):
        top = [TokenChoice(token=t, logprob=lp) for t, lp in tops[0].items() if lp is not None]
    return Reply(text=str(choice.get("text") or ""), top=top,
                 fingerprint=data.get("system_fingerprint"))


def _chat_reply(data: dict[str, Any]) -> Reply:
    choice = _first_choice(data)
    message = choice.get("message") or {}
    logprobs = choice.get("logprobs") or {}
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    top = None
    if isinstance(content, list) and content and isinstance(content[0], dict):
        listed = content[0].get("top_logprobs")
        if isinstance(listed, list) and listed:
            top = [TokenChoice(token=str(t["token"]), logprob=float(t["logprob"]))
                   for t in listed if isinstance(t, dict) and t.get("logprob") is not None]
    return Reply(text=str(message.get("content") or ""), top=top,
                 fingerprint=data.get("system_fingerprint"))
