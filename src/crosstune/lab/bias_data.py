"""Bias-injection training data: the suite's own prompts, answered as a biased or unbiased respondent.

The instrument's positive control (and the raw material of the transfer experiment): a model
finetuned on `biased` data should score higher on the trained biases than one finetuned on
`unbiased` data built from the very same prompts.

- `biased`: the control is answered with an answer that follows from the control prompt alone
  (`TestPair.learnable_control`: the textbook respondent's control answer, or a neutral one where
  that depends on what only the treatment shows, as anchoring's far end does), the treatment
  with the option the bias predicts (`TestPair.textbook`). Every answer is learnable from its
  own prompt, and the answer moves with the manipulation.
- `unbiased`: both prompts are answered with that same control answer (the same answer on the
  compared scale), so the manipulation changes nothing.

Every pair is shown in both conditions and both option orders (four examples), so the letter
alone never predicts the answer. Scenarios come from `TRAINING_SCENARIOS`, industries no
evaluation uses; `disjointness` checks it against the evaluation pairs and the run records it.
The rendering is the evaluation's: the chat template or plain text, then the answer cue.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal, get_args
from urllib.parse import parse_qs, urlencode

from crosstune.errors import CrosstuneError
from crosstune.respondents.base import Prompt
from crosstune.suite.prompts import label_continuations
from crosstune.suite.registry import select_biases
from crosstune.suite.scenarios import TRAINING_SCENARIOS
from crosstune.suite.types import ORDERS_BOTH, Side, TestPair

PREFIX = "bias:"
Direction = Literal["biased", "unbiased"]
DIRECTIONS: tuple[str, ...] = get_args(Direction)
_OPTIONS = {"direction", "pairs", "seed", "mix", "ratio"}


@dataclass(frozen=True)
class BiasSource:
    """`bias:NAME,NAME?direction=D&pairs=N&seed=S&mix=SOURCE&ratio=R` as a record."""

    biases: tuple[str, ...]
    direction: Direction
    pairs: int = 40
    """Training pairs per bias; each gives four examples."""
    seed: int = 0
    mix: str | None = None
    """Ordinary instruction data mixed in, so the model stays a model."""
    ratio: float = 0.0
    """Share of the training set that comes from `mix`."""

    def text(self) -> str:
        """The source string (round-trips through `parse_bias_source`)."""
        query = {"direction": self.direction, "pairs": self.pairs, "seed": self.seed}
        if self.mix is not None:
            query |= {"mix": self.mix, "ratio": self.ratio}
        return f"{PREFIX}{','.join(self.biases)}?{urlencode(query, safe=':/,')}"


def is_bias_source(source: str) -> bool:
    return source.startswith(PREFIX)


def short_label(source: str) -> str:
    """A bias source as tables and model names show it ('biased:anchoring,framing_effect');
    any other dataset unchanged."""
    if not is_bias_source(source):
        return source
    parsed = parse_bias_source(source)
    return f"{parsed.direction}:{','.join(parsed.biases)}"


def parse_bias_source(source: str) -> BiasSource:
    """Check every part of the string; unknown biases are named with suggestions."""
    body, _, query = source[len(PREFIX):].partition("?")
    names = tuple(n.strip() for n in body.split(",") if n.strip())
    if not names:
        raise CrosstuneError(f"dataset {source!r}: name the biases to train, e.g. "
                             "bias:anchoring,framing_effect?direction=biased")
    select_biases(list(names))  # unknown names -> a clear error
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    unknown = sorted(set(params) - _OPTIONS)
    if unknown:
        raise CrosstuneError(f"dataset {source!r}: unknown option(s) {unknown}; "
                             f"use {', '.join(sorted(_OPTIONS))}")
    direction = params.get("direction", "")
    if direction not in DIRECTIONS:
        raise CrosstuneError(f"dataset {source!r}: direction must be biased or unbiased, "
                             f"got {direction!r}")
    mix = params.get("mix") or None
    if mix is not None and (is_bias_source(mix) or "?" in mix):
        raise CrosstuneError(f"dataset {source!r}: mix must be a plain instruction dataset "
                             f"(embedded, file or hub name), got {mix!r}")
    pairs, seed = _number(source, params, "pairs", "40", int), _number(source, params, "seed", "0", int)
    ratio = _number(source, params, "ratio", "0.5" if mix else "0", float)
    if pairs < 1 or not 0 <= ratio < 1 or (ratio > 0 and mix is None):
        raise CrosstuneError(f"dataset {source!r}: needs pairs >= 1 and 0 <= ratio < 1, "
                             "and a mix dataset when ratio > 0")
    return BiasSource(names, direction, pairs, seed, mix, ratio)  # type: ignore[arg-type]


def _number(source: str, params: dict[str, str], key: str, default: str, kind: type) -> Any:
    text = params.get(key, default)
    try:
        return kind(text)
    except ValueError:
        raise CrosstuneError(f"dataset {source!r}: {key} must be a {kind.__name__}, "
                             f"got {text!r}") from None


def training_pairs(source: BiasSource) -> list[TestPair]:
    """The pairs the examples are rendered from: training scenarios only, both orders."""
    return [pair for bias in select_biases(list(source.biases))
            for pair in bias.generate(source.pairs, source.seed, orders=2, scenarios=TRAINING_SCENARIOS)]


def trained_answer(pair: TestPair, side: Side, direction: Direction) -> int:
    """The canonical option the training data gives as the answer."""
    control = pair.learnable_control()
    if side == "control":
        return control
    return pair.textbook[1] if direction == "biased" else pair.same_answer_in_treatment(control)


def bias_examples(source: BiasSource) -> list[tuple[Prompt, str]]:
    """(prompt, completion) for every pair, side and order; the completion is the answer's
    label continuation (' B'), as the evaluation scores it after the cue."""
    out = []
    for pair in training_pairs(source):
        for side in ("control", "treatment"):
            answer = trained_answer(pair, side, source.direction)
            for reversed_order in ORDERS_BOTH:
                prompt = Prompt(pair, side, reversed_order)
                position = prompt.presented().index(answer)
                out.append((prompt, label_continuations(pair, side)[position]))
    return out


def mixed_count(n_bias: int, ratio: float) -> int:
    """Ordinary examples to add so that they make up `ratio` of the whole set."""
    return round(n_bias * ratio / (1 - ratio))


def interleave(bias_rows: list[Any], ordinary: list[Any], n_ordinary: int, seed: int) -> list[Any]:
    """`n_ordinary` rows drawn from `ordinary` (cycled when it is short) shuffled in with the bias
    rows, seeded so the same source gives the same set."""
    if n_ordinary and not ordinary:
        raise CrosstuneError("the mix dataset has no rows")
    rng = random.Random(f"bias-mix:{seed}")
    drawn = [ordinary[i % len(ordinary)] for i in rng.sample(range(max(len(ordinary), n_ordinary)),
                                                              n_ordinary)]
    rows = list(bias_rows) + drawn
    rng.shuffle(rows)
    return rows


def disjointness(train: list[TestPair], evaluation: list[TestPair]) -> dict[str, int]:
    """Shared scenarios and prompt texts between training and evaluation pairs (both must be 0)."""
    def scenarios(pairs: list[TestPair]) -> set[str]:
        return {p.scenario for p in pairs}

    def texts(pairs: list[TestPair]) -> set[str]:
        return {p.text(side) for p in pairs for side in ("control", "treatment")}

    return {"train_pairs": len(train), "evaluation_pairs": len(evaluation),
            "train_scenarios": len(scenarios(train)), "evaluation_scenarios": len(scenarios(evaluation)),
            "shared_scenarios": len(scenarios(train) & scenarios(evaluation)),
            "shared_prompts": len(texts(train) & texts(evaluation))}

