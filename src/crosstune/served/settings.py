"""How to reach a served model: the options of `--model served:ID`, checked before any request."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crosstune.errors import CrosstuneError, validated

PREFIX = "served:"
Endpoint = Literal["completions", "chat", "chat-continue"]


class ServedSettings(BaseModel):
    """One served model and how to ask it; the API key itself is never stored here."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="the model id the server knows (what /v1/models lists)")
    base_url: str = Field(description="the OpenAI-compatible base URL, e.g. http://host:8000/v1")
    endpoint: Endpoint = Field(
        "completions", description="completions: crosstune renders the prompt; chat: messages; "
        "chat-continue: messages ending in the answer cue as a partial assistant turn (vLLM)")
    tokenizer: str | None = Field(
        None, description="completions: render with this tokenizer's chat template (embedded "
        "name, folder or hub id); default: plain text")
    api_key_env: str | None = Field(None, description="environment variable holding the API key")
    concurrency: int = Field(8, ge=1, le=256, description="requests in flight at once")
    timeout: float = Field(60.0, gt=0, description="seconds per request")
    retries: int = Field(5, ge=0, le=20, description="retries of a request on 429, 5xx, timeouts")
    backoff: float = Field(1.0, ge=0, description="first retry delay in seconds, doubled each time")
    top_logprobs: int = Field(20, ge=1, le=100, description="k: next-token log-probabilities asked for")
    revision: str | None = Field(
        None, description="what identifies the weights when the server reports no fingerprint")
    fallback: bool = Field(
        True, description="generate and parse when the server gives no log-probabilities")

    _url = field_validator("base_url")(lambda cls, value: base_url(value))

    def api_key(self) -> str | None:
        """The key from the named environment variable; its absence is the user's error."""
        if self.api_key_env is None:
            return None
        key = os.environ.get(self.api_key_env, "")
        if not key:
            raise CrosstuneError(f"--api-key-env names {self.api_key_env}, but that environment "
                                 "variable is not set (or empty); export it or leave the option out")
        return key


def base_url(value: str) -> str:
    """An http(s) base URL without its trailing slash (pydantic validators use it)."""
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"must start with http:// or https://, got {value!r}")
    return value.rstrip("/")


def served_id(model: str) -> str | None:
    """The model id of a `served:ID` specification, None for any other model."""
    if not model.startswith(PREFIX):
        return None
    name = model[len(PREFIX):].strip()
    if not name:
        raise CrosstuneError("--model served:ID needs the model id the server knows, "
                             "e.g. served:Qwen/Qwen2.5-7B-Instruct")
    return name


def served_settings(model: str, base_url: str | None, **options: object) -> ServedSettings | None:
    """Settings for `--model served:ID`; None for a local model (then no served option may be set)."""
    name = served_id(model)
    if name is None:
        given = ["base_url"] if base_url is not None else []
        given += [k for k, v in options.items()
                  if v is not None and v != ServedSettings.model_fields[k].default]
        if given:
            raise CrosstuneError(f"--{given[0].replace('_', '-')} applies only to --model served:ID")
        return None
    if base_url is None:
        raise CrosstuneError("--model served:ID needs --base-url, e.g. http://127.0.0.1:8000/v1")
    settings = validated(ServedSettings, model=name, base_url=base_url,
                         **{k: v for k, v in options.items() if v is not None})
    settings.api_key()  # a missing key is said now, before any work
    return settings
