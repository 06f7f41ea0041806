"""What an [rl] section would fail on, refused before any work: question files, reward code."""

from __future__ import annotations

from crosstune.errors import CrosstuneError
from crosstune.experiment.spec import RLSpec
from crosstune.lab.rl.parsing import parse
from crosstune.lab.rl.questions import question_set
from crosstune.lab.rl.rewards import load_reward


def check_rl(rl: RLSpec) -> None:
    """Every question set loads (a file's rows all have answers); every reward loads and pays a
    number for a sample completion, so a broken reward is found here, not inside TRL."""
    sample = None
    for name in rl.question_sets:
        questions = question_set(name, rl.train_questions, rl.seed)
        if len(questions) < 1:
            raise CrosstuneError(f"question set {name} holds no questions")
        sample = sample or questions[0]
    assert sample is not None
    letter = "A"
    for name in rl.rewards:
        reward = load_reward(name, rl.allow_code)
        text = f"{letter}, 50%"
        reward.score(text, parse(text, sample.choices), sample.answer)
