"""The RL arm's question sets and its prompt: the calibration probe's known-answer questions.

`feasible` is the calibration probe's generated set (arithmetic, comparison, units, logic);
`too-hard` asks for the product of two three-digit numbers among eight close candidates, which a
small model cannot compute (its accuracy is chance, 1/8); a `.jsonl` path is the user's file in
the probe's format. Training and evaluation questions come from different seeds, and the
evaluation set is always the feasible one, minus the training questions of every set the spec
names, so every arm of a run is measured on the same questions.
"""

from __future__ import annotations

import random
from pathlib import Path

from crosstune.errors import CrosstuneError
from crosstune.experiment.spec import RLSpec
from crosstune.probes.questions import Question, generate_questions, load_questions, prompt_text

INSTRUCTION = ("Give the letter of the correct option, then how confident you are that it is "
               "correct, as a percentage (for example: 70%).")
EVAL_SEED_OFFSET = 1000
"""Evaluation questions are generated from seed + this, disjoint from the training seed's."""


def rl_prompt(q: Question) -> str:
    """The user turn: the question with lettered options, then the request for answer and confidence."""
    return f"{prompt_text(q)}\n\n{INSTRUCTION}"


def too_hard_questions(n: int, seed: int) -> list[Question]:
    """Products of two three-digit numbers, eight candidates differing in the middle digits."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rng.randint(101, 999), rng.randint(101, 999)
        value = a * b
        candidates = {value}
        while len(candidates) < 8:
            candidates.add(value + rng.choice([-1, 1]) * rng.randint(1, 99) * 10)
        choices = sorted(candidates)
        rng.shuffle(choices)
        out.append(Question(f"too-hard-{seed}-{i}", "too-hard", f"What is {a} * {b}?",
                            tuple(str(c) for c in choices), choices.index(value)))
    return out


def question_set(name: str, n: int, seed: int) -> list[Question]:
    """Training questions of a set (a user's file: all of its rows, every one with an answer)."""
    if name == "feasible":
        return generate_questions(n, seed)
    if name == "too-hard":
        return too_hard_questions(n, seed)
    if not name.endswith(".jsonl"):
        raise CrosstuneError(f"unknown question set {name!r}; use feasible, too-hard or a .jsonl file")
    return load_questions(Path(name))


def eval_questions(n: int, seed: int, training: list[Question]) -> list[Question]:
    """The feasible evaluation set, minus any question text in `training` (pass every arm's
    training questions, so that all arms are measured on the same questions)."""
    seen = {q.question for q in training}
    fresh = [q for q in generate_questions(3 * n, seed + EVAL_SEED_OFFSET) if q.question not in seen]
    return fresh[:n]


def run_eval_questions(rl: RLSpec) -> list[Question]:
    """The feasible questions every arm of the run is measured on: none of them is a training
    question of any arm, and no arm's own set decides which they are."""
    every_arms_training = [q for name in rl.question_sets
                           for q in question_set(name, rl.train_questions, rl.seed)]
    return eval_questions(rl.eval_questions, rl.seed, every_arms_training)
