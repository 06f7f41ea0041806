"""A model behind an OpenAI-compatible server as a Backend: next-token top-k labels, and text.

The option labels are single tokens (letters), so the next token's top log-probabilities at
the answer cue are all option scoring needs (no prompt log-probabilities, so the server's
prefix cache stays on). Requests run concurrently; each reply goes into the result cache as it
arrives, so a crash or Ctrl-C resumes without asking again. The weights are not hashed: the
base URL, the model id and the server's fingerprint (else the user's `--revision`) identify
the model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np

from crosstune.engine.backend import BackendOptions, Context, Sampling
from crosstune.engine.cache import ResultCache, cache_key, cached
from crosstune.errors import CrosstuneError
from crosstune.models.handle import render_turns
from crosstune.progress import Advance
from crosstune.served.client import Message, Query, Reply, ServedClient
from crosstune.served.letters import read_labels
from crosstune.served.settings import ServedSettings, served_id
from crosstune.suite.prompts import ANSWER_CUE

log = logging.getLogger(__name__)

CHAT_INSTRUCTION = "Reply with the letter only."
GENERATE_TOKENS = 12
"""Tokens generated per prompt when reading letters is impossible (as the local Generator)."""
PROBE_TEXT = ("Which letter comes first in the alphabet?\n\nOptions:\nA. A\nB. B\n\n"
              "Answer with the letter of exactly one option.")
CONTINUE_USER = "Count from 1 to 20, separated by commas."
CONTINUE_REPLY = "1, 2, 3, 4, 5, 6, 7, 8,"
"""chat-continue check: a server that continues this partial reply says 9 next; one that opens
a new assistant turn starts the count (or a sentence) again."""
SAMPLED = "served-sampled-generation-v1"
GREEDY = "served-generation-v1"
NEXT_TOKEN = "served-next-token-v1"
_WARNED: set[str] = set()


def warn_once(key: str, message: str, *args: object) -> None:
    """One warning per process and key: a grid of many jobs says a thing once."""
    if key not in _WARNED:
        _WARNED.add(key)
        log.warning(message, *args)


class ServedBackend:
    """Asks one served model through a ServedClient; `connect` builds one after checking the server."""

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
        self.scores_options = fallback_reason is None
        self.method = NEXT_TOKEN if self.scores_options else GREEDY
        self.fingerprint = self._fingerprint()
        self.load_seconds = 0.0
        """Time the server check took (the manifest's load time)."""
        self.changed: list[str] = []
        """Other system_fingerprints the server reported during the run."""

    # -- what is sent -------------------------------------------------------------------------

    def query(self, context: Context) -> Query:
        """One context as the endpoint takes it; the reply's start ends it wherever it can."""
        s = self.settings
        if s.endpoint == "completions":
            fmt = "chat" if self.tokenizer is not None else "plain"
            return Query(prompt=render_turns(self.tokenizer, fmt, [("user", context.user)])
                         + context.reply)
        if s.endpoint == "chat-continue" and context.reply:
            return Query(messages=[Message(role="user", content=context.user),
                                   Message(role="assistant", content=context.reply)],
                         continue_final=True)
        if context.reply not in ("", ANSWER_CUE):
            raise CrosstuneError(f"--endpoint {s.endpoint} cannot continue a partial reply (this "
                                 "probe writes the start of the model's answer); use --endpoint "
                                 "completions (with --tokenizer) or chat-continue")
        cue = context.reply == ANSWER_CUE and s.endpoint == "chat"  # the instruction stands for it
        user = f"{context.user}\n{CHAT_INSTRUCTION}" if cue else context.user
        return Query(messages=[Message(role="user", content=user)])

    def method_name(self, generate: bool) -> str:
        return GREEDY if generate or not self.scores_options else NEXT_TOKEN

    def text(self, context: Context) -> str:
        query = self.query(context)
        return query.prompt if query.prompt is not None else json.dumps(
            [m.model_dump() for m in query.messages or []], ensure_ascii=False)

    # -- the Backend interface ----------------------------------------------------------------

    def option_logprobs(self, contexts: Sequence[Context], labels: Sequence[tuple[str, ...]],
                        progress: Advance | None = None) -> list[np.ndarray]:
        if not self.scores_options:
            raise CrosstuneError(f"{self.settings.base_url} gives no log-probabilities for "
                                 f"{self.name!r}, and this needs option probabilities; start the "
                                 "server with log-probabilities on (llama.cpp: --logits_all true)")
        queries = [self.query(c) for c in contexts]
        k = self.settings.top_logprobs
        keys = [cache_key(self.fingerprint, NEXT_TOKEN, [q.model_dump(mode="json"), k])
                for q in queries]
        replies = self._cached(keys, lambda i: self.client.ask(queries[i], logprobs=True,
                                                               max_tokens=1), progress)
        return [read_labels(r.top or [], ls) for r, ls in zip(replies, labels, strict=True)]

    def generate(self, contexts: Sequence[Context], max_new_tokens: int,
                 progress: Advance | None = None) -> list[str]:
        queries = [self.query(c) for c in contexts]
        keys = [cache_key(self.fingerprint, GREEDY, [q.model_dump(mode="json"), max_new_tokens])
                for q in queries]
        replies = self._cached(keys, lambda i: self.client.ask(
            queries[i], logprobs=False, max_tokens=max_new_tokens), progress)
        return [r.text for r in replies]

    def sample(self, contexts: Sequence[Context], count: int, sampling: Sampling,
               progress: Advance | None = None) -> list[list[str]]:
        items = [(self.query(c), j) for c in contexts for j in range(count)]
        keys = [cache_key(self.fingerprint, SAMPLED,
                          [q.model_dump(mode="json"), sampling.max_new_tokens, sampling.temperature,
                           sampling.top_p, sampling.seed, j]) for q, j in items]

        def ask(i: int) -> Reply:  # the server's seed from the key: a sample is its key's
            seed = int(hashlib.sha256(f"{sampling.seed}|{keys[i]}".encode()).hexdigest()[:8], 16)
            return self.client.ask(items[i][0], logprobs=False, max_tokens=sampling.max_new_tokens,
                                   temperature=sampling.temperature, top_p=sampling.top_p,
                                   seed=seed)

        replies = self._cached(keys, ask, progress)
        texts = [r.text for r in replies]
        return [texts[i * count:(i + 1) * count] for i in range(len(contexts))]

    def count_tokens(self, text: str) -> int:
        if self.tokenizer is not None:
            return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return max(1, round(len(text) / 4))  # no tokenizer: about four characters a token

    def close(self) -> None:
        self.client.close()

    # -- requests -----------------------------------------------------------------------------

    def _cached(self, keys: list[str], ask: Callable[[int], Reply], progress: Advance | None
                ) -> list[Reply]:
        return cached(self.cache, keys, lambda todo: self._concurrent(todo, ask), progress,
                      store=lambda r: r.model_dump(mode="json"), load=Reply.model_validate)

    def _concurrent(self, todo: list[int], ask: Callable[[int], Reply]
                    ) -> Iterator[dict[int, Reply]]:
        """Replies as they arrive, at most `concurrency` requests in flight, sent in order."""
        pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="crosstune-served")
        pending: dict[Future[Reply], int] = {}
        queue = iter(todo)
        try:
            for i in queue:
                pending[pool.submit(ask, i)] = i
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
                        pending[pool.submit(ask, nxt)] = nxt
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

    # -- identity -----------------------------------------------------------------------------

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
            "scoring": (f"generation and parsing ({self.fallback_reason})" if not self.scores_options
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


def check_continues(client: ServedClient) -> None:
    """chat-continue: refuse a server that opens a new assistant turn instead of continuing
    the partial one (llama.cpp ignores `continue_final_message`): its letters would answer
    another question."""
    query = Query(messages=[Message(role="user", content=CONTINUE_USER),
                            Message(role="assistant", content=CONTINUE_REPLY)], continue_final=True)
    reply = client.ask(query, logprobs=False, max_tokens=2)
    if not reply.text.strip().startswith("9"):
        raise CrosstuneError(f"{client.settings.base_url} ignores continue_final_message (asked to "
                             f"continue {CONTINUE_REPLY!r} it answered {reply.text.strip()[:20]!r}), "
                             "so --endpoint chat-continue would read the letters of a new turn; "
                             "use --endpoint completions with --tokenizer")


def connect(settings: ServedSettings, cache: ResultCache | None = None,
            generate: bool = False, notify: Callable[[str], None] | None = None) -> ServedBackend:
    """Check the server (reachable, serves the model, gives log-probabilities), then a backend.

    One short request tells whether the server returns log-probabilities and reports a
    system_fingerprint; without log-probabilities the backend generates and parses (or, with
    fallback off, the run stops here with one line). chat-continue is checked to continue.
    """
    if settings.tokenizer and settings.endpoint != "completions":
        raise CrosstuneError("--tokenizer applies to --endpoint completions (a chat endpoint "
                             "applies the server's own chat template)")
    tokenizer = load_tokenizer(settings.tokenizer) if settings.tokenizer else None
    client = ServedClient(settings, notify)
    try:
        listed = client.models()
        if listed and settings.model not in listed:
            shown = ", ".join(listed[:8]) + (", ..." if len(listed) > 8 else "")
            raise CrosstuneError(f"{settings.base_url} does not serve {settings.model!r}; it lists: "
                                 f"{shown}")
        probe = ServedBackend(client, tokenizer)
        reply = client.ask(probe.query(Context(PROBE_TEXT, ANSWER_CUE)),
                           logprobs=True, max_tokens=1)
        if settings.endpoint == "chat-continue":
            check_continues(client)
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
                                 "docs/served.md) or drop --no-fallback to generate and parse")
        log.warning("%s returned no log-probabilities: falling back to generation and parsing "
                    "(the manifest says so)", settings.base_url)
    if settings.endpoint == "completions" and not settings.tokenizer:  # said once all is well
        warn_once("plain", "--endpoint completions without --tokenizer sends plain-text prompts, "
                  "not the chat template local evaluation renders: the numbers are not comparable "
                  "with a local evaluation; pass --tokenizer (an embedded name, folder or hub id)")
    return ServedBackend(client, tokenizer, cache, reply.fingerprint, reason)


def open_backend(spec: str, options: BackendOptions, cache: ResultCache | None = None
                 ) -> ServedBackend:
    """`served:ID`: the server named by `options.served`, checked; the time that took kept."""
    name = served_id(spec)
    settings = options.with_served_model(name or spec)
    if options.adapter:
        raise CrosstuneError("--adapter does not apply to a served model; serve the adapter "
                             "(vLLM --lora-modules NAME=PATH) and give --model served:NAME")
    started = time.perf_counter()
    backend = connect(settings, cache, generate=options.generate, notify=options.notify)
    backend.load_seconds = round(time.perf_counter() - started, 2)
    return backend
