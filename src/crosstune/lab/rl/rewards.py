"""Rewards of a parsed completion: `binary`, `brier`, or a user's Python function (opt-in).

Every reward has a floor, the least it can pay: a completion the parser cannot read earns it,
so an unreadable answer is never better than a wrong one. `brier` needs the stated confidence
too; `binary` only the answer.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crosstune.errors import CrosstuneError
from crosstune.experiment.rl import check_reward_name
from crosstune.lab.rl.parsing import Parsed

UserFunction = Callable[[str, int, Parsed], float]
"""A user's reward: (completion text, correct option index, parsed completion) -> a number."""


def binary(parsed: Parsed, answer: int) -> float:
    """1 for the right option, 0 otherwise: a confident wrong answer costs nothing more."""
    return float(parsed.answer == answer)


def brier(parsed: Parsed, answer: int) -> float:
    """correctness - (confidence - correctness)^2: right and sure pays 1, wrong and sure -1."""
    if not parsed.complete:
        return -1.0
    correct = float(parsed.answer == answer)
    return correct - (float(parsed.confidence) - correct) ** 2  # type: ignore[arg-type]


@dataclass(frozen=True)
class Reward:
    """A named reward: `score(text, parsed, answer)`, and the floor an unreadable completion earns."""

    name: str
    floor: float
    needs: str
    """What a completion must state to be scored: 'answer' or 'answer and confidence'."""
    _fn: Callable[[str, Parsed, int], float]

    def readable(self, parsed: Parsed) -> bool:
        return parsed.complete if self.needs == "answer and confidence" else parsed.answered

    def score(self, text: str, parsed: Parsed, answer: int) -> float:
        """The reward of one completion; the floor when it cannot be read."""
        return self._fn(text, parsed, answer) if self.readable(parsed) else self.floor


BINARY = Reward("binary", 0.0, "answer", lambda text, parsed, answer: binary(parsed, answer))
BRIER = Reward("brier", -1.0, "answer and confidence", lambda text, parsed, answer: brier(parsed, answer))


def load_reward(name: str, allow_code: bool) -> Reward:
    """The reward a spec names; a user's file is imported only with `allow_code`."""
    if name == "binary":
        return BINARY
    if name == "brier":
        return BRIER
    try:
        check_reward_name(name, allow_code)
    except ValueError as err:
        raise CrosstuneError(str(err)) from None
    file, _, function = name.rpartition(":")
    return _user_reward(Path(file), function, name)


def _user_reward(path: Path, function: str, name: str) -> Reward:
    if not path.is_file():
        raise CrosstuneError(f"reward file {path} not found")
    spec = importlib.util.spec_from_file_location(f"crosstune_user_reward_{abs(hash(str(path)))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        raise CrosstuneError(f"{path}:{err.lineno}: reward file does not parse: {err.msg}") from None
    except Exception as err:  # the user's module-level code
        raise CrosstuneError(f"{_where(err, path)}: loading the reward file raised "
                             f"{type(err).__name__}: {err}") from None
    fn = getattr(module, function, None)
    if not callable(fn):
        raise CrosstuneError(f"{path}: no function {function!r} (the reward {name!r} names it)")
    floor = getattr(module, "FLOOR", 0.0)
    if not isinstance(floor, (int, float)) or not math.isfinite(floor):
        raise CrosstuneError(f"{path}: FLOOR must be a finite number, got {floor!r}")
    line = _def_line(fn)

    def call(text: str, parsed: Parsed, answer: int) -> float:
        try:
            value = fn(text, answer, parsed)
        except Exception as err:
            raise CrosstuneError(f"{_where(err, path)}: reward {function} raised "
                                 f"{type(err).__name__}: {err}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise CrosstuneError(f"{path}:{line}: reward {function} returned {value!r:.60}; "
                                 "return a finite number")
        return float(value)

    return Reward(name, float(floor), "answer", call)


def _def_line(fn: Callable[..., object]) -> int:
    try:
        return inspect.getsourcelines(fn)[1]
    except (OSError, TypeError):
        return 0


def _where(err: BaseException, path: Path) -> str:
    """FILE:LINE of the deepest frame of the traceback in the user's file."""
    target = str(path.resolve())
    lines = [f.lineno for f in traceback.extract_tb(err.__traceback__)
             if str(Path(f.filename).resolve()) == target]
    return f"{path}:{lines[-1]}" if lines else str(path)


def trl_reward(reward: Reward, choices_of: Callable[[str], tuple[str, ...]],
               tally: Callable[[list[Parsed]], None] | None = None) -> Callable[..., list[float]]:
    """The reward as TRL's GRPOTrainer calls it: completions plus the dataset's columns."""
    from crosstune.lab.rl.parsing import parse

    def rl_reward(prompts: list[str], completions: list[str], answer: list[int], qid: list[str],
                  **_: object) -> list[float]:
        parsed = [parse(text, choices_of(q)) for text, q in zip(completions, qid, strict=True)]
        if tally is not None:
            tally(parsed)
        return [reward.score(text, p, a) for text, p, a in zip(completions, parsed, answer, strict=True)]

    rl_reward.__name__ = reward.name if reward.name.isidentifier() else "user"
    return rl_reward


__all__ = ["BINARY", "BRIER", "Reward", "binary", "brier", "load_reward", "trl_reward"]
