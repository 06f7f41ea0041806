"""A training dataset as a spec names it, parsed once into a typed record.

Users write strings in the TOML: `embedded:STYLE`, a `.jsonl`/`.json`/`.parquet` file or a hub
name, each optionally followed by `?transform=NAME&seed=N` (a format-only arm, see `transforms`);
or `bias:NAME,...?direction=...` (the suite's own prompts, see `bias_data`); or
`rl:REWARD?questions=SET`, an RL arm, which only the spec's [rl] section writes (see `lab/rl`).
`parse_dataset` turns one into its record at the spec's edge, and the records travel from there
on. `text()` gives the string back exactly as written: job hashes and model names are made from
it, so a run folder written before keeps its jobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import parse_qs, urlencode

from pydantic import PlainSerializer, PlainValidator

from crosstune.errors import CrosstuneError
from crosstune.experiment.embedded_data import STYLES
from crosstune.experiment.transforms import TRANSFORMS, Transform
from crosstune.suite.registry import select_biases

EMBEDDED = "embedded:"
BIAS = "bias:"
RL = "rl:"
FILE_SUFFIXES = (".jsonl", ".json", ".parquet")
Direction = Literal["biased", "unbiased"]
DIRECTIONS: tuple[str, ...] = get_args(Direction)
_BIAS_OPTIONS = {"direction", "pairs", "seed", "mix", "ratio"}


@dataclass(frozen=True)
class PlainSource:
    """An ordinary instruction dataset and the format-only transform it is trained with."""

    base: str
    """The dataset as named, without the query."""
    transform: Transform = "original"
    seed: int = 0
    """Seed of the transform (the shuffle of `shuffled-outputs`)."""
    query: str = ""
    """What followed '?' as written, so `text()` gives the spelling back."""

    def text(self) -> str:
        return f"{self.base}?{self.query}" if self.query else self.base

    @property
    def label(self) -> str:
        """How tables and model names show it."""
        return self.text()

    @property
    def names_a_transform(self) -> bool:
        """Written with a query: a format-only arm of `base`."""
        return bool(self.query)

    @property
    def on_the_hub(self) -> bool:
        return False


@dataclass(frozen=True)
class EmbeddedSource(PlainSource):
    """`embedded:STYLE`: generated offline (`embedded_data`)."""

    @property
    def style(self) -> str:
        return self.base.removeprefix(EMBEDDED)


@dataclass(frozen=True)
class FileSource(PlainSource):
    """A local JSONL or Parquet file."""

    @property
    def path(self) -> Path:
        return Path(self.base)


@dataclass(frozen=True)
class HubSource(PlainSource):
    """A Hugging Face hub dataset (its train split)."""

    @property
    def on_the_hub(self) -> bool:
        return True


@dataclass(frozen=True)
class BiasSource:
    """`bias:NAME,NAME?direction=D&pairs=N&seed=S&mix=SOURCE&ratio=R` as a record."""

    biases: tuple[str, ...]
    direction: Direction
    pairs: int = 40
    """Training pairs per bias; each gives four examples."""
    seed: int = 0
    mix: PlainSource | None = None
    """Ordinary instruction data mixed in, so the model stays a model."""
    ratio: float = 0.0
    """Share of the training set that comes from `mix`."""
    spelled: str | None = field(default=None, compare=False)
    """The string it was parsed from, when it was; `text()` gives it back."""

    def text(self) -> str:
        """The source string (round-trips through `parse_bias_source`)."""
        if self.spelled is not None:
            return self.spelled
        query: dict[str, Any] = {"direction": self.direction, "pairs": self.pairs, "seed": self.seed}
        if self.mix is not None:
            query |= {"mix": self.mix.text(), "ratio": self.ratio}
        return f"{BIAS}{','.join(self.biases)}?{urlencode(query, safe=':/,')}"

    @property
    def label(self) -> str:
        """How tables and model names show it: 'biased:anchoring,framing_effect'."""
        return f"{self.direction}:{','.join(self.biases)}"

    @property
    def on_the_hub(self) -> bool:
        return self.mix is not None and self.mix.on_the_hub


@dataclass(frozen=True)
class RLSource:
    """`rl:REWARD?questions=SET`: GRPO with a reward on a question set (the [rl] section's arms)."""

    reward: str
    """binary, brier, or FILE.py:FUNCTION"""
    questions: str
    """feasible, too-hard, or a JSONL file"""

    def text(self) -> str:
        return f"{RL}{self.reward}?{urlencode({'questions': self.questions}, safe=':/.')}"

    @property
    def label(self) -> str:
        """How tables and model names show it: 'rl-brier:feasible'."""
        return f"rl-{self.reward}:{self.questions}"

    @property
    def on_the_hub(self) -> bool:
        return False


DataSource = EmbeddedSource | FileSource | HubSource | BiasSource | RLSource


def parse_dataset(text: str) -> DataSource:
    """The record of a dataset string; every part is checked, a bad one named with the fix."""
    if text.startswith(RL):
        return parse_rl_source(text)
    return parse_bias_source(text) if text.startswith(BIAS) else parse_plain(text)


def parse_rl_source(source: str) -> RLSource:
    """'rl:REWARD?questions=SET' (as the [rl] section writes it; its names are checked there)."""
    reward, _, query = source.removeprefix(RL).partition("?")
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    if not reward or set(params) != {"questions"} or not params["questions"]:
        raise CrosstuneError(f"dataset {source!r}: an RL arm is rl:REWARD?questions=SET")
    return RLSource(reward, params["questions"])


def parse_plain(source: str) -> EmbeddedSource | FileSource | HubSource:
    """'SOURCE' or 'SOURCE?transform=NAME&seed=N'; no query means the original, seed 0."""
    base, _, query = source.partition("?")
    kind = EmbeddedSource if base.startswith(EMBEDDED) else FileSource if base.endswith(FILE_SUFFIXES) \
        else HubSource
    if kind is EmbeddedSource and base.removeprefix(EMBEDDED) not in STYLES:
        raise CrosstuneError(f"unknown embedded dataset {base!r}; choose from "
                             + ", ".join(f"{EMBEDDED}{s}" for s in STYLES))
    if not query:
        return kind(base)
    params = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(params) - {"transform", "seed"})
    if unknown:
        raise CrosstuneError(f"dataset {source!r}: unknown option(s) {unknown}; "
                             "use ?transform=NAME&seed=N")
    name = params.get("transform", ["original"])[-1]
    if name not in TRANSFORMS:
        raise CrosstuneError(f"dataset {source!r}: unknown transform {name!r}; choose from "
                             + ", ".join(TRANSFORMS))
    seed_text = params.get("seed", ["0"])[-1]
    if not seed_text.lstrip("-").isdigit():
        raise CrosstuneError(f"dataset {source!r}: seed must be an integer, got {seed_text!r}")
    return kind(base, name, int(seed_text), query)  # type: ignore[arg-type]


def parse_mix(mix: str | None, where: str) -> PlainSource | None:
    """The ordinary data a bias source mixes in: a plain dataset without a transform."""
    if mix is not None and (mix.startswith(BIAS) or "?" in mix):
        raise CrosstuneError(f"{where}: mix must be a plain instruction dataset "
                             f"(embedded, file or hub name), got {mix!r}")
    return parse_plain(mix) if mix is not None else None


def parse_bias_source(source: str) -> BiasSource:
    """Check every part of the string; unknown biases are named with suggestions."""
    body, _, query = source.removeprefix(BIAS).partition("?")
    names = tuple(n.strip() for n in body.split(",") if n.strip())
    if not names:
        raise CrosstuneError(f"dataset {source!r}: name the biases to train, e.g. "
                             "bias:anchoring,framing_effect?direction=biased")
    select_biases(list(names))  # unknown names -> a clear error
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    unknown = sorted(set(params) - _BIAS_OPTIONS)
    if unknown:
        raise CrosstuneError(f"dataset {source!r}: unknown option(s) {unknown}; "
                             f"use {', '.join(sorted(_BIAS_OPTIONS))}")
    direction = params.get("direction", "")
    if direction not in DIRECTIONS:
        raise CrosstuneError(f"dataset {source!r}: direction must be biased or unbiased, "
                             f"got {direction!r}")
    mix = parse_mix(params.get("mix") or None, f"dataset {source!r}")
    pairs, seed = _number(source, params, "pairs", "40", int), _number(source, params, "seed", "0", int)
    ratio = _number(source, params, "ratio", "0.5" if mix else "0", float)
    if pairs < 1 or not 0 <= ratio < 1 or (ratio > 0 and mix is None):
        raise CrosstuneError(f"dataset {source!r}: needs pairs >= 1 and 0 <= ratio < 1, "
                             "and a mix dataset when ratio > 0")
    check_injection_size(pairs, len(names), ratio, f"dataset {source!r}")
    return BiasSource(names, direction, pairs, seed, mix, ratio, spelled=source)  # type: ignore[arg-type]


MAX_TRAINING_EXAMPLES = 1_000_000
"""Bias-injection examples one dataset may generate: beyond it, building them alone runs for hours."""


def injected_examples(pairs: int, biases: int, ratio: float) -> float:
    """Examples of a bias-injection set: 4 per pair and bias, plus the mixed-in share."""
    return 4 * pairs * biases / (1 - ratio)


def check_injection_size(pairs: int, biases: int, ratio: float, where: str) -> None:
    """Refuse, before any example is built, a set larger than MAX_TRAINING_EXAMPLES."""
    total = injected_examples(pairs, biases, ratio)
    if total > MAX_TRAINING_EXAMPLES:
        mixed = f" and ratio = {ratio}" if ratio else ""
        raise CrosstuneError(f"{where}: pairs = {pairs}{mixed} make {total:,.0f} training examples; at most "
                             f"{MAX_TRAINING_EXAMPLES:,}")


def _number(source: str, params: dict[str, str], key: str, default: str, kind: type) -> Any:
    text = params.get(key, default)
    try:
        return kind(text)
    except ValueError:
        raise CrosstuneError(f"dataset {source!r}: {key} must be a {kind.__name__}, "
                             f"got {text!r}") from None


def short_label(text: str) -> str:
    """A dataset string as tables show it, for readers of raw job files: a bias source short
    ('biased:anchoring'), any other string unchanged (not checked)."""
    if text.startswith(RL):
        return parse_rl_source(text).label
    return parse_bias_source(text).label if text.startswith(BIAS) else text


def _validated(value: object) -> DataSource:
    if isinstance(value, (PlainSource, BiasSource, RLSource)):
        return value  # type: ignore[return-value]
    if not isinstance(value, str):
        raise ValueError(f"a dataset is a string, got {type(value).__name__}")
    try:
        return parse_dataset(value)
    except CrosstuneError as err:
        raise ValueError(str(err)) from None


Dataset = Annotated[DataSource, PlainValidator(_validated),
                    PlainSerializer(lambda source: source.text(), return_type=str)]
"""A spec field: a string in TOML and JSON, the record in Python."""
