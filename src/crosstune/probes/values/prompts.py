"""The one-word value prompts: 54 standard ones, keyed <adjective>_<superlative>_<style>."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Literal

from crosstune.errors import CrosstuneError, read_user_text
from crosstune.user_tables import read_csv

Framing = Literal["positive", "negative"]

ADJECTIVES = {"best": "best", "greatest": "greatest", "good": "most good",
              "worst": "worst", "bad": "most bad", "terrible": "most terrible"}
POSITIVE = ("best", "greatest", "good")
SUPERLATIVES = {"ever": "ever", "world": "in the world", "time": "of all time"}
STYLES = {"one": "What, in one word, is the {A} thing {S}?",
          "single": "What, in a single word, is the {A} thing {S}?",
          "please": "What is the {A} thing {S}? Please answer in one word only."}
DEFAULT_IMPLICIT_KEY = "greatest_ever_one"
_KEY = re.compile(r"^([a-z]+)_([a-z0-9]+)_([a-z0-9]+)$")


@dataclass(frozen=True)
class ValuePrompt:
    """One prompt: its key, its text, and the framing its adjective implies."""

    key: str
    text: str

    @property
    def framing(self) -> Framing:
        return framing_of(self.key)


def framing_of(key: str) -> Framing:
    """Positive iff the key's adjective is best, greatest or good; a key outside the scheme is an error."""
    match = _KEY.match(key)
    if match is None or match.group(1) not in ADJECTIVES:
        raise CrosstuneError(
            f"prompt key {key!r} does not follow <adjective>_<superlative>_<style> (lowercase, "
            f"adjective one of {', '.join(ADJECTIVES)}), e.g. greatest_ever_one"
        )
    return "positive" if match.group(1) in POSITIVE else "negative"


def standard_prompts() -> list[ValuePrompt]:
    """The 54 prompts: 6 adjectives x 3 superlatives x 3 styles."""
    return [ValuePrompt(f"{a}_{s}_{st}", STYLES[st].format(A=ADJECTIVES[a], S=SUPERLATIVES[s]))
            for a, s, st in product(ADJECTIVES, SUPERLATIVES, STYLES)]


def read_prompt_file(path: Path) -> list[ValuePrompt]:
    """Extra prompts: TOML (key = "text", optionally under [prompts]) or CSV with key,text columns."""

    if path.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(read_user_text(path, "prompt file", 'a TOML file of key = "text"'))
        except tomllib.TOMLDecodeError as err:
            raise CrosstuneError(f"prompt file {path} is not valid TOML ({err})") from None
        data = data.get("prompts", data)
        if not isinstance(data, dict) or not data:
            raise CrosstuneError(f"prompt file {path} holds no prompts; write key = \"text\" lines")
        pairs = list(data.items())
    elif path.suffix.lower() == ".csv":
        frame = read_csv(path, "prompt file", dtype=str, keep_default_na=False)
        if not {"key", "text"} <= set(frame.columns):
            raise CrosstuneError(f"prompt file {path} needs columns key,text (found {list(frame.columns)})")
        pairs = list(zip(frame["key"], frame["text"], strict=True))
    else:
        raise CrosstuneError(f"prompt file {path}: use a .toml or .csv file")
    prompts = []
    for key, text in pairs:
        framing_of(key)
        if not isinstance(text, str) or not text.strip():
            raise CrosstuneError(f"prompt file {path}: prompt {key!r} has no text")
        prompts.append(ValuePrompt(key, text))
    return prompts


def select_prompts(keys: list[str] | None = None, extra: Path | None = None) -> list[ValuePrompt]:
    """The standard prompts plus a file's, restricted to `keys` when given (in that order)."""
    known = {p.key: p for p in standard_prompts()}
    known.update({p.key: p for p in read_prompt_file(extra)} if extra else {})
    if not keys:
        return list(known.values())
    for key in keys:
        framing_of(key)
        if key not in known:
            raise CrosstuneError(f"prompt key {key!r} follows the scheme but no prompt has it; "
                                 "add it with --prompt-file or pick one of the 54 standard keys")
    return [known[k] for k in dict.fromkeys(keys)]
