"""Core records of the instrument: scales, metric parameters, test pairs, and the Bias itself."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from crosstune.errors import CrosstuneError
from crosstune.suite.scenarios import SCENARIOS, Scenario

T = TypeVar("T")

OPTION_LABELS = "ABCDEFGHIJK"
"""Letters, not digits: single tokens in common tokenizers and prefix-free ("1" is a prefix of "10")."""


@dataclass(frozen=True)
class Metric:
    """How one pair's two answers become a score (BIASES.md).

    ``ratio``: Malberg's B = k(|a1-x1| - |a2-x2|) / max(...) on option indices, with the treatment
    index mirrored first when ``flip``. ``difference``: sign * (P(target|treatment) -
    P(target|control)) as in Itzhak et al.
    """

    kind: Literal["ratio", "difference"] = "ratio"
    k: float = -1.0
    x1: float = 0.0
    x2: float = 0.0
    flip: bool = False
    target: tuple[int, int] = (0, 0)
    sign: float = 1.0


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
    reversed_order: bool
    """Presentation: options shown last-to-first for this pair (both prompts); answers map back."""

    def options(self, side: Literal["control", "treatment"]) -> tuple[str, ...]:
        return self.control_options if side == "control" else self.treatment_options

    def text(self, side: Literal["control", "treatment"]) -> str:
        return self.control if side == "control" else self.treatment

    def presented(self, side: Literal["control", "treatment"]) -> list[int]:
        """Scale indices in the order they are shown; position i gets label OPTION_LABELS[i]."""
        n = len(self.options(side))
        return list(range(n - 1, -1, -1)) if self.reversed_order else list(range(n))


@dataclass(frozen=True)
class Draft:
    """What a bias template returns for one scenario before ids and presentation are added."""

    control: str
    treatment: str
    options: tuple[str, ...]
    metric: Metric = field(default_factory=Metric)
    treatment_options: tuple[str, ...] | None = None


class Draw:
    """The seeded randomness and the scenario a template works from."""

    def __init__(self, rng: random.Random, scenario: Scenario):
        self.rng = rng
        self.s = scenario

    def pick(self, choices: Sequence[T]) -> T:
        return self.rng.choice(list(choices))

    def uniform_int(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)


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

    def generate(self, n: int, seed: int) -> list[TestPair]:
        """n pairs, identical for the same (n, seed); no two pairs word-for-word alike."""
        if n < 1:
            raise CrosstuneError(f"number of pairs must be at least 1, got {n}")
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
            scenario = rng.choice(SCENARIOS)
            draft = self.template(Draw(rng, scenario))
            if (draft.control, draft.treatment) in seen:
                continue
            seen.add((draft.control, draft.treatment))
            pairs.append(self._finish(draft, scenario, rng, len(pairs), seed))
        return pairs

    def _finish(
        self, draft: Draft, scenario: Scenario, rng: random.Random, index: int, seed: int
    ) -> TestPair:
        options = draft.options
        treatment_options = draft.treatment_options
        if treatment_options is None:
            # Designs with flip present the treatment's options mirrored (BIASES.md).
            treatment_options = options[::-1] if draft.metric.flip else options
        return TestPair(
            pair_id=f"{self.name}-{seed}-{index:04d}",
            bias=self.name,
            scenario=scenario.id,
            control=draft.control,
            treatment=draft.treatment,
            control_options=tuple(options),
            treatment_options=tuple(treatment_options),
            metric=draft.metric,
            reversed_order=rng.random() < 0.5,
        )


def _sub_seed(seed: int, name: str, attempt: int) -> int:
    digest = hashlib.sha256(f"{seed}:{name}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:8], "big")

