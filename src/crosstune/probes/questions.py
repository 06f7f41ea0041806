"""Known-answer multiple-choice questions: a seeded generated set, or the user's JSONL.

The generated set mixes arithmetic, comparison, unit conversion and simple logic, so a probe
has ground truth without any data download. Choices are shuffled per question (seeded), so
the correct letter is spread over the positions.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crosstune.errors import CrosstuneError, read_user_text
from crosstune.suite.types import OPTION_LABELS

KINDS = ("arithmetic", "comparison", "unit", "logic")


@dataclass(frozen=True)
class Question:
    """One item: text, choices in canonical (listed) order, index of the correct choice."""

    qid: str
    kind: str
    question: str
    choices: tuple[str, ...]
    answer: int


def prompt_text(q: Question, order: tuple[int, ...] | None = None) -> str:
    """The question with lettered choices presented in `order` (canonical indices)."""
    order = order if order is not None else tuple(range(len(q.choices)))
    lines = [q.question, "", "Options:"]
    lines += [f"{OPTION_LABELS[pos]}. {q.choices[idx]}" for pos, idx in enumerate(order)]
    return "\n".join(lines)


def option_labels(n: int) -> tuple[str, ...]:
    """Label continuations ' A', ' B', ... as the bias suite reads them."""
    return tuple(f" {OPTION_LABELS[pos]}" for pos in range(n))


def _distinct(correct: int, candidates: list[int], rng: random.Random, k: int = 3) -> list[int]:
    wrong = [c for c in dict.fromkeys(candidates) if c != correct and c >= 0]
    while len(wrong) < k:
        c = correct + rng.choice([-3, -2, 2, 3, 5, 7, -7, 11])
        if c != correct and c >= 0 and c not in wrong:
            wrong.append(c)
    return rng.sample(wrong, k)


def _arithmetic(rng: random.Random) -> tuple[str, list[str], int]:
    a, b = rng.randint(2, 60), rng.randint(2, 40)
    op = rng.choice(["+", "-", "*"])
    if op == "-":
        a, b = max(a, b), min(a, b)
    value = {"+": a + b, "-": a - b, "*": a * b}[op]
    wrong = _distinct(value, [value + 1, value - 1, value + 10, value - 10,
                              int(str(value)[::-1])], rng)
    return f"What is {a} {op} {b}?", [str(value)] + [str(w) for w in wrong], 0


def _comparison(rng: random.Random) -> tuple[str, list[str], int]:
    numbers = rng.sample(range(1, 1000), 4)
    largest = rng.random() < 0.5
    target = max(numbers) if largest else min(numbers)
    word = "largest" if largest else "smallest"
    return f"Which number is the {word}?", [str(n) for n in numbers], numbers.index(target)


_UNITS = [("centimetres", "metre", 100), ("minutes", "hour", 60), ("grams", "kilogram", 1000),
          ("seconds", "minute", 60), ("days", "week", 7), ("months", "year", 12),
          ("millimetres", "centimetre", 10), ("hours", "day", 24)]


def _unit(rng: random.Random) -> tuple[str, list[str], int]:
    small, big, factor = rng.choice(_UNITS)
    n = rng.randint(2, 9)
    value = n * factor
    wrong = _distinct(value, [n * factor * 10, n * factor // 10 if factor >= 100 else n + factor,
                              (n + 1) * factor, (n - 1) * factor], rng)
    return (f"How many {small} are in {n} {big}s?", [str(value)] + [str(w) for w in wrong], 0)


_NAMES = ["Ada", "Ben", "Cleo", "Dev", "Emil", "Fay", "Gus", "Hana"]
_NONCE = ["bloops", "razzies", "tovs", "mirks", "quells", "zabs", "plints", "gorbs"]


def _logic(rng: random.Random) -> tuple[str, list[str], int]:
    name = rng.choice(_NAMES)
    a, b = rng.sample(_NONCE, 2)
    form = rng.randrange(3)
    if form == 0:
        text = f"All {a} are {b}. {name} is one of the {a}. Is {name} one of the {b}?"
        return text, ["Yes", "No", "Cannot be determined"], 0
    if form == 1:
        text = f"No {a} are {b}. {name} is one of the {a}. Is {name} one of the {b}?"
        return text, ["Yes", "No", "Cannot be determined"], 1
    n = rng.randint(10, 99)
    return f"Is {n} an even number?", ["Yes", "No"], 0 if n % 2 == 0 else 1


_MAKERS: dict[str, Callable[[random.Random], tuple[str, list[str], int]]] = {
    "arithmetic": _arithmetic, "comparison": _comparison, "unit": _unit, "logic": _logic}


def generate_questions(n: int, seed: int = 0, kinds: tuple[str, ...] = KINDS) -> list[Question]:
    """`n` questions cycling through `kinds`, choices shuffled; the same seed gives the same set."""
    if n < 1:
        raise CrosstuneError(f"--questions must be at least 1, got {n}")
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise CrosstuneError(f"unknown question kinds {unknown}; choose from {', '.join(KINDS)}")
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        text, choices, answer = _MAKERS[kind](rng)
        order = list(range(len(choices)))
        rng.shuffle(order)
        shuffled = tuple(choices[j] for j in order)
        out.append(Question(f"{kind}-{seed}-{i}", kind, text, shuffled, order.index(answer)))
    return out


class QuestionRow(BaseModel):
    """One line of a questions JSONL file, typed strictly: nothing is split, coerced or guessed."""

    model_config = ConfigDict(strict=True, extra="ignore")

    question: str = Field(min_length=1)
    choices: list[str] = Field(min_length=2, max_length=len(OPTION_LABELS))
    answer: int | str
    """The correct choice: its index (0 = first listed) or its text."""
    id: str | int | None = None
    kind: str | None = None

    @field_validator("choices")
    @classmethod
    def _distinct_choices(cls, choices: list[str]) -> list[str]:
        repeated = sorted({c for c in choices if choices.count(c) > 1})
        if repeated:
            raise ValueError(f"choices repeat {repeated}")
        return choices

    @model_validator(mode="after")
    def _answer_is_a_choice(self) -> QuestionRow:
        if isinstance(self.answer, int) and not 0 <= self.answer < len(self.choices):
            raise ValueError(f"answer index {self.answer} is out of range for {len(self.choices)} choices")
        if isinstance(self.answer, str) and self.answer not in self.choices:
            raise ValueError(f"answer {self.answer!r} is not the text of any choice")
        return self

    @property
    def index(self) -> int:
        return self.answer if isinstance(self.answer, int) else self.choices.index(self.answer)


def _lines(path: Path) -> list[str]:
    """The file's lines; a folder, binary or non-UTF-8 file is a named error; a BOM is accepted."""
    return read_user_text(path, "questions file", "a JSONL file in UTF-8").splitlines()


def load_questions(path: Path) -> list[Question]:
    """Questions from JSONL lines {"question", "choices", "answer"} (answer: index or choice text);
    every row is checked before any is used, ids must be unique."""
    out: list[Question] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        try:
            row = QuestionRow.model_validate(json.loads(line))
        except json.JSONDecodeError as err:
            raise CrosstuneError(f"{path}:{n}: not valid JSON ({err.msg}, column {err.colno})") from err
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(x) for x in first["loc"] if x not in ("int", "str")) or "the row"
            got = f" (got {first['input']!r:.60})" if first["type"] != "missing" and first["loc"] else ""
            raise CrosstuneError(f"{path}:{n}: {where}: {first['msg']}{got}; each line needs "
                                 '{"question": text, "choices": [texts], "answer": index or choice '
                                 "text}") from err
        qid = str(row.id) if row.id is not None else f"{path.stem}-{n}"
        if qid in seen:
            raise CrosstuneError(f"{path}:{n}: id {qid!r} repeats line {seen[qid]}; give every "
                                 "question its own id")
        seen[qid] = n
        out.append(Question(qid, row.kind or "user", row.question, tuple(row.choices), row.index))
    if not out:
        raise CrosstuneError(f"{path} holds no questions")
    return out


def build_questions(questions_file: Path | None, count: int, seed: int) -> list[Question]:
    """The user's questions file when given, else `count` generated questions."""
    return load_questions(questions_file) if questions_file is not None else generate_questions(count, seed)
