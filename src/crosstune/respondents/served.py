"""A model behind an OpenAI-compatible server as a respondent: the next token's top-k letters.

The option labels are single letters, so the next token's top log-probabilities at the answer
cue are all crosstune needs (no prompt log-probabilities, so the server's prefix cache stays
on). Requests run concurrently; each reply goes into the result cache as it arrives, so a
crash or Ctrl-C resumes without asking again. The weights are not hashed: the base URL, the
model id and the server's fingerprint (else the user's `--revision`) identify the model.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from crosstune.engine.cache import ResultCache, cache_key, cached
from crosstune.errors import CrosstuneError
from crosstune.models.handle import render_turns
from crosstune.progress import Advance
from crosstune.respondents.base import Answer, Prompt
from crosstune.respondents.model import answer_from_text
from crosstune.served.client import Message, Query, Reply, ServedClient
from crosstune.served.letters import read_letters
from crosstune.served.settings import ServedSettings
from crosstune.suite.prompts import ANSWER_CUE

log = logging.getLogger(__name__)

CHAT_INSTRUCTION = "Reply with the letter only."
GENERATE_TOKENS = 12
"""Tokens generated per prompt when reading letters is impossible (as the local Generator)."""
PROBE_TEXT = ("Which letter comes first in the alphabet?\n\nOptions:\nA. A\nB. B\n\n"
              "Answer with the letter of exactly one option.")


class ServedRespondent:
    """Answers prompts through a ServedClient; `connect` builds one after checking the server."""

    kind = "served"

    def __init__(self, client: ServedClient, tokenizer: Any = None, cache: ResultCache | None = None,
                 reported: str | None = None, fallback_reason: str | None = None):
        self.client = client
        self.settings = client.settings
        self.name = self.settings.model
        self.tokenizer = tokenizer
        self.cache = cache
        self.reported = reported
        """The server's system_fingerprint, as the check request reported it."""
        self.fallback_reason = fallback_reason
        self.generate = fallback_reason is not None
        self.method = "served-generation-v1" if self.generate else "served-next-token-v1"
        self.fingerprint = self._fingerprint()
        self.load_seconds = 0.0
        """Time the server check took (the manifest's load time)."""
        self.changed: list[str] = []
        """Other system_fingerprints the server reported during the run."""

    def query(self, text: str) -> Query:
        """One prompt as the endpoint takes it; the cue ends it wherever the endpoint allows."""
        s = self.settings
        if s.endpoint == "completions":
            fmt = "chat" if self.tokenizer is not None else "plain"
            return Query(prompt=render_turns(self.tokenizer, fmt, [("user", text)]) + ANSWER_CUE)
        if s.endpoint == "chat-continue":
            return Query(messages=[Message(role="user", content=text),
                                   Message(role="assistant", content=ANSWER_CUE)],
                         continue_final=True)
        return Query(messages=[Message(role="user", content=f"{text}\n{CHAT_INSTRUCTION}")])

    def ask(self, query: Query) -> Reply:
        if self.generate:
            return self.client.ask(query, logprobs=False, max_tokens=GENERATE_TOKENS)
        return self.client.ask(query, logprobs=True, max_tokens=1)

    def answer(self, prompts: Sequence[Prompt], progress: Advance | None = None) -> list[Answer]:
        queries = [self.query(p.text) for p in prompts]
        size = GENERATE_TOKENS if self.generate else self.settings.top_logprobs
        keys = [cache_key(self.fingerprint, self.method, [q.model_dump(mode="json"), size])
                for q in queries]
        replies = cached(self.cache, keys, lambda todo: self._concurrent(queries, todo), progress,
                         store=lambda r: r.model_dump(mode="json"), load=Reply.model_validate)
        return [self._answer(p, q, r) for p, q, r in zip(prompts, queries, replies, strict=True)]

    def _concurrent(self, queries: list[Query], todo: list[int]) -> Iterator[dict[int, Reply]]:
        """Replies as they arrive, at most `concurrency` requests in flight."""
        pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="crosstune-served")
        pending: dict[Future[Reply], int] = {}
        queue = iter(todo)
        try:
            for i in queue:
                pending[pool.submit(self.ask, queries[i])] = i
                if len(pending) >= 2 * self.settings.concurrency:
                    break
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    i = pending.pop(future)
                    reply = future.result()
                    self._check_fingerprint(reply)
                    yield {i: reply}
                    nxt = next(queue, None)
                    if nxt is not None:
                        pending[pool.submit(self.ask, queries[nxt])] = nxt
        finally:
            if pending:  # stopped early: requests in flight give up instead of retrying
                self.client.stopped.set()
            pool.shutdown(wait=False, cancel_futures=True)

    def _check_fingerprint(self, reply: Reply) -> None:
        """Warn once per new fingerprint: the weights may have changed behind the same id."""
        seen = reply.fingerprint
        if seen and self.reported and seen != self.reported and seen not in self.changed:
            log.warning("the server's system_fingerprint changed from %s to %s during the run: "
                        "its answers may come from different weights", self.reported, seen)
            self.changed.append(seen)

    def _answer(self, prompt: Prompt, query: Query, reply: Reply) -> Answer:
        context = query.prompt if query.prompt is not None else json.dumps(
            [m.model_dump() for m in query.messages or []], ensure_ascii=False)
        if self.generate:
            return answer_from_text(prompt, reply.text, context)
        n = len(prompt.presented())
        reading = read_letters(reply.top or [], n)
        return Answer(reading.probs, reading.mass, "", context, outside_top_k=reading.outside_top_k)

    def identified_by(self) -> str:
        """What stands in for a weights hash, in words."""
        s = self.settings
        if self.reported:
            return f"base URL, model id and the server's system_fingerprint {self.reported!r}"
        if s.revision:
            return f"base URL, model id and --revision {s.revision!r}"
        return ("base URL and model id only: the server reports no fingerprint and no --revision "
                "was given, so a model swapped behind the same id reuses cached answers")

    def _fingerprint(self) -> str:
        s = self.settings
        parts = [s.base_url, s.model, self.reported or s.revision or "", s.endpoint, self.method,
                 template_digest(self.tokenizer)]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {
            "name": s.model, "kind": "served", "source": f"served:{s.model}",
            "base_url": s.base_url, "endpoint": s.endpoint, "tokenizer": s.tokenizer,
            "prompt_format": "chat" if (self.tokenizer is not None or s.endpoint != "completions")
            else "plain",
            "top_logprobs": s.top_logprobs,
            "weights_hashed": False,
            "identified_by": self.identified_by(),
            "system_fingerprint": self.reported, "revision": s.revision,
            "fingerprints_changed_to": self.changed,
            "scoring": (f"generation and parsing ({self.fallback_reason})" if self.generate
                        else "next-token top-k log-probabilities of the option letters"),
            "fallback": self.fallback_reason,
            "fingerprint": self.fingerprint,
            "base_fingerprint": self.fingerprint,
        }


def template_digest(tokenizer: Any) -> str | None:
    template = getattr(tokenizer, "chat_template", None) if tokenizer is not None else None
    return hashlib.sha256(template.encode()).hexdigest()[:16] if template else None


def load_tokenizer(spec: str) -> Any:
    """A tokenizer for its chat template: an embedded model's name, a folder or a hub id."""
    from transformers import AutoTokenizer

    from crosstune.models.embedded import EMBEDDED, cached_folder

    try:
        if spec in EMBEDDED:
            folder = cached_folder(spec)
            if (folder / "crosstune-source.json").exists():
                tokenizer = AutoTokenizer.from_pretrained(str(folder))
            else:
                gguf = EMBEDDED[spec].locate()
                tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        else:
            tokenizer = AutoTokenizer.from_pretrained(str(Path(spec).expanduser())
                                                      if Path(spec).expanduser().exists() else spec)
    except (OSError, ValueError) as err:
        raise CrosstuneError(f"--tokenizer {spec}: cannot load a tokenizer ({err})") from None
    if not getattr(tokenizer, "chat_template", None):
        raise CrosstuneError(f"--tokenizer {spec} has no chat template; leave --tokenizer out to "
                             "send plain prompts")
    return tokenizer


def connect(settings: ServedSettings, cache: ResultCache | None = None,
            generate: bool = False) -> ServedRespondent:
    """Check the server (reachable, serves the model, gives log-probabilities), then a respondent.

    One short request tells whether the server returns log-probabilities and reports a
    system_fingerprint; without log-probabilities the respondent generates and parses (or, with
    fallback off, the run stops here with one line).
    """
    if settings.tokenizer and settings.endpoint != "completions":
        raise CrosstuneError("--tokenizer applies to --endpoint completions (a chat endpoint "
                             "applies the server's own chat template)")
    tokenizer = load_tokenizer(settings.tokenizer) if settings.tokenizer else None
    client = ServedClient(settings)
    try:
        listed = client.models()
        if listed and settings.model not in listed:
            shown = ", ".join(listed[:8]) + (", ..." if len(listed) > 8 else "")
            raise CrosstuneError(f"{settings.base_url} does not serve {settings.model!r}; it lists: "
                                 f"{shown}")
        probe = ServedRespondent(client, tokenizer)
        reply = client.ask(probe.query(PROBE_TEXT), logprobs=True, max_tokens=1)
    except BaseException:
        client.close()
        raise
    reason = "--method generate" if generate else None
    if reply.top is None and not generate:
        reason = "the server returned no log-probabilities"
        if not settings.fallback:
            client.close()
            raise CrosstuneError(f"{settings.base_url} returned no log-probabilities for "
                                 f"{settings.model!r}; start it with log-probabilities on (see "
                                 "README, Served models) or drop --no-fallback to generate and parse")
        log.warning("%s returned no log-probabilities: falling back to generation and parsing "
                    "(the manifest says so)", settings.base_url)
    return ServedRespondent(client, tokenizer, cache, reply.fingerprint, reason)
