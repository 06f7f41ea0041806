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
from typing import Any

from crosstune.errors import CrosstuneError
from crosstune.experiment.sources import BiasSource, Direction
from crosstune.respondents.base import Prompt
from crosstune.suite.prompts import label_continuations
from crosstune.suite.registry import select_biases
from crosstune.suite.scenarios import TRAINING_SCENARIOS
from crosstune.suite.types import ORDERS_BOTH, Side, TestPair


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

