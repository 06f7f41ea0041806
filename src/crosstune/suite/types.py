"""Core records of the instrument: scales, metric parameters, test pairs, and the Bias itself."""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, TypeVar

from crosstune.errors import CrosstuneError
from crosstune.suite.scenarios import SCENARIOS, Scenario

T = TypeVar("T")
Side = Literal["control", "treatment"]

OPTION_LABELS = "ABCDEFGHIJK"
"""Letters, not digits: single tokens in common tokenizers and prefix-free ("1" is a prefix of "10")."""


@dataclass(frozen=True)
class Metric:
    """How one pair's two answers become a score (BIASES.md).

    ``ratio``: Malberg's B = k(|a1-x1| - |a2-x2|) / max(...) on option indices, with the treatment
    index mirrored first when ``flip``. ``difference``: sign * (P(target|treatment) -
    P(target|control)) as in Itzhak et al., over the options both prompts offer: all control
    options, and the treatment options listed in ``compare`` (None: all of them).
    """

    kind: Literal["ratio", "difference"] = "ratio"
    k: float = -1.0
    x1: float = 0.0
    x2: float = 0.0
    flip: bool = False
    target: tuple[int, int] = (0, 0)
    sign: float = 1.0
    compare: tuple[int, ...] | None = None

    def stratum(self) -> tuple[object, ...]:
        """The parameters that change the sign of a position effect; offsets x do not."""
        return (self.kind, self.k, self.sign, self.flip, self.target, self.compare)


ORDERS_BOTH: tuple[bool, ...] = (False, True)
"""Counterbalanced presentation: as listed, then reversed."""


@dataclass(frozen=True)
class TestPair:
    """One control/treatment pair; options are listed in canonical scale order."""

    __test__ = False  # not a pytest class

    pair_id: str
    bias: str
    scenario: str
    control: str
    treatment: str
    control_options: tuple[str, ...]
    treatment_options: tuple[str, ...]
    metric: Metric
    textbook: tuple[int, int]
    """The canonical options a respondent with the textbook bias picks (control, treatment)."""
    orders: tuple[bool, ...] = ORDERS_BOTH
    """Presentations of both prompts: False = as listed, True = last-to-first; answers map back."""
    neutral_control: int | None = None
    """See `Draft.neutral_control`; None where the textbook control answer is learnable."""

    def learnable_control(self) -> int:
        """The control answer that follows from the control prompt alone (bias-injection data)."""
        return self.textbook[0] if self.neutral_control is None else self.neutral_control

    def options(self, side: Side) -> tuple[str, ...]:
        return self.control_options if side == "control" else self.treatment_options

    def text(self, side: Side) -> str:
        return self.control if side == "control" else self.treatment

    def same_answer_in_treatment(self, control_index: int) -> int:
        """The treatment option that gives the same answer as control option `control_index` on
        the scale the score compares: mirrored for flip designs, the `compare` slot for designs
        whose treatment adds options. Answering both so scores no bias."""
        m = self.metric
        if m.kind == "ratio":
            return len(self.treatment_options) - 1 - control_index if m.flip else control_index
        return m.compare[control_index] if m.compare is not None else control_index

    def presented(self, side: Side, reversed_order: bool = False) -> list[int]:
        """Scale indices in the order they are shown; position i gets label OPTION_LABELS[i]."""
        n = len(self.options(side))
        return list(range(n - 1, -1, -1)) if reversed_order else list(range(n))


@dataclass(frozen=True)
class Draft:
    """What a bias template returns for one scenario before ids and presentation are added.

    ``textbook`` names, by option text, what a respondent with the bias answers in the control
    and in the treatment; `crosstune biases validate` checks that it scores positive.
    """

    control: str
    treatment: str
    options: tuple[str, ...]
    textbook: tuple[str, str]
    metric: Metric = field(default_factory=Metric)
    treatment_options: tuple[str, ...] | None = None
    neutral_control: str | None = None
    """Where the textbook control answer depends on what only the treatment shows (anchoring's
    far end lies opposite the anchor), the control answer that needs only the control prompt:
    bias-injection data trains this one, so every training answer is learnable from its prompt."""


class Draw:
    """The seeded randomness and the scenario a template works from."""

    def __init__(self, rng: random.Random, scenario: Scenario):
        self.rng = rng
        self.s = scenario

    def pick(self, choices: Sequence[T]) -> T:
        return self.rng.choice(list(choices))

    def uniform_int(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def coin(self) -> bool:
        return self.rng.random() < 0.5


Template = Callable[[Draw], Draft]


@dataclass(frozen=True)
class Bias:
    """A named bias: how to generate its pairs and what a positive score means."""

    name: str
    title: str
    source: str
    manipulation: str
    positive_means: str
    template: Template = field(repr=False)
    n_options: int = 7
    zero_offset: str | None = None
    """Set where the published design's zero point is not 'no bias' (said by `biases show`)."""

    def generate(self, n: int, seed: int, orders: int = 2,
                 scenarios: Sequence[Scenario] | None = None) -> list[TestPair]:
        """n pairs, identical for the same arguments; no two pairs word-for-word alike.

        ``orders=2`` presents every prompt as listed and reversed; ``orders=1`` reverses exactly
        half of the pairs (one more or less when odd) within each sign stratum of the metric.
        """
        if n < 1:
            raise CrosstuneError(f"number of pairs must be at least 1, got {n}")
        if orders not in (1, 2):
            raise CrosstuneError(f"orders must be 1 or 2, got {orders}")
        pool = SCENARIOS if scenarios is None else scenarios
        pairs: list[TestPair] = []
        seen: set[tuple[str, str]] = set()
        attempt = 0
        while len(pairs) < n:
            if attempt > 50 * n + 1000:
                raise CrosstuneError(
                    f"bias {self.name!r} cannot make {n} distinct pairs; ask for fewer"
                )
            rng = random.Random(_sub_seed(seed, self.name, attempt))
            attempt += 1
            scenario = rng.choice(list(pool))
            draft = self.template(Draw(rng, scenario))
            if (draft.control, draft.treatment) in seen:
                continue
            seen.add((draft.control, draft.treatment))
            pairs.append(self._finish(draft, scenario, len(pairs), seed))
        return pairs if orders == 2 else _balance_reversals(pairs, seed)

    def _finish(self, draft: Draft, scenario: Scenario, index: int, seed: int) -> TestPair:
        options = tuple(draft.options)
        treatment_options = draft.treatment_options
        if treatment_options is None:
            # Designs with flip list the treatment's options mirrored (BIASES.md): the score
            # then compares the same option texts.
            treatment_options = options[::-1] if draft.metric.flip else options
        textbook = (_index_of(options, draft.textbook[0], self.name),
                    _index_of(tuple(treatment_options), draft.textbook[1], self.name))
        return TestPair(
            pair_id=f"{self.name}-{seed}-{index:04d}",
            bias=self.name,
            scenario=scenario.id,
            control=draft.control,
            treatment=draft.treatment,
            control_options=options,
            treatment_options=tuple(treatment_options),
            metric=draft.metric,
            textbook=textbook,
            neutral_control=(None if draft.neutral_control is None
                             else _index_of(options, draft.neutral_control, self.name)),
        )


def _index_of(options: tuple[str, ...], text: str, bias: str) -> int:
    if text not in options:
        raise CrosstuneError(f"bias {bias!r}: textbook answer {text!r} is not one of its options; "
                             "name it by its exact option text")
    return options.index(text)


def _balance_reversals(pairs: list[TestPair], seed: int) -> list[TestPair]:
    """One order per pair, reversed for exactly half of each stratum (seeded which half)."""
    strata: dict[tuple[object, ...], list[int]] = defaultdict(list)
    for i, pair in enumerate(pairs):
        strata[pair.metric.stratum()].append(i)
    out = list(pairs)
    for key, members in strata.items():
        rng = random.Random(_sub_seed(seed, f"{pairs[0].bias}-orders-{key!r}", 0))
        flags = [i % 2 == 1 for i in range(len(members))]
        rng.shuffle(flags)
        for i, flag in zip(members, flags, strict=True):
            out[i] = replace(pairs[i], orders=(flag,))
    return out


def _sub_seed(seed: int, name: str, attempt: int) -> int:
    digest = hashlib.sha256(f"{seed}:{name}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:8], "big")
