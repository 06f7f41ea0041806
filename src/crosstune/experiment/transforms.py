"""Format-only variants of an instruction dataset (arXiv 2305.11383), applied row by row.

- `original`: unchanged.
- `empty-instructions`: the instruction text is removed; the prompt keeps only the instance
  and the output space (the allowed answers, or their form), the completion is unchanged.
- `shuffled-outputs`: every prompt is paired with another example's completion from the same
  task (a seeded derangement), so the format is right and the input-output mapping is wrong.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace
from typing import TYPE_CHECKING, Literal, get_args

from crosstune.errors import CrosstuneError

if TYPE_CHECKING:
    from crosstune.lab.datasets import Example

Transform = Literal["original", "empty-instructions", "shuffled-outputs"]
TRANSFORMS: tuple[str, ...] = get_args(Transform)


def empty_instruction_prompt(example: Example) -> str:
    """The prompt with the instruction gone: the instance and the output space only."""
    return f"{example.input}\nOutput space: {example.output_space}"


def _empty_instructions(examples: list[Example]) -> list[Example]:
    missing = next((i for i, e in enumerate(examples, 1) if e.input is None or e.output_space is None),
                   None)
    if missing is not None:
        raise CrosstuneError(f"transform empty-instructions needs 'input' and 'output_space' fields "
                             f"on every row (row {missing} lacks them); the embedded datasets have them")
    return [replace(e, prompt=(("user", empty_instruction_prompt(e)),)) for e in examples]


def derangement(n: int, rng: random.Random) -> list[int]:
    """A uniformly random cyclic permutation (Sattolo): no index maps to itself when n >= 2."""
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.randrange(i)
        order[i], order[j] = order[j], order[i]
    return order


def _shuffled_outputs(examples: list[Example], seed: int) -> list[Example]:
    groups: dict[str | None, list[int]] = defaultdict(list)
    for index, example in enumerate(examples):
        groups[example.task].append(index)
    small = sorted(str(task) for task, rows in groups.items() if len(rows) < 2)
    if small:
        raise CrosstuneError(f"transform shuffled-outputs needs at least 2 rows per task; "
                             f"task(s) {small} have one")
    rng = random.Random(f"shuffled-outputs:{seed}")
    donor = list(range(len(examples)))
    for task in sorted(groups, key=str):
        rows = groups[task]
        for position, source in zip(rows, derangement(len(rows), rng), strict=True):
            donor[position] = rows[source]
    return [replace(e, completion=examples[donor[i]].completion) for i, e in enumerate(examples)]


def apply_transform(examples: list[Example], name: Transform, seed: int = 0) -> list[Example]:
    """The dataset as the named arm trains on it; same length and order as `examples`."""
    if name == "empty-instructions":
        return _empty_instructions(examples)
    if name == "shuffled-outputs":
        return _shuffled_outputs(examples, seed)
    return list(examples)
