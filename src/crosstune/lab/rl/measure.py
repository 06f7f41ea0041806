"""What the RL arm measures on a model, before, during and after training.

- stated confidence: greedy completions to the RL prompt, parsed; accuracy (an unreadable answer
  counts as wrong), parse and repetition rates, the modal answer share (one letter given to every
  question is a shortcut, whatever the format), and, over completions that state a confidence,
  its top-label ECE and binary Brier score, with bootstrap CIs over questions;
- option probabilities: the calibration probe's own scoring and metrics (`probes/calibration`);
- format census: sampled completions' answer formats, their shares and entropy.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from crosstune.engine.cache import ResultCache
from crosstune.engine.generation import Generator
from crosstune.lab.rl.parsing import FORMATS, entropy_bits, format_shares, parse, repetitive
from crosstune.lab.rl.questions import rl_prompt
from crosstune.models.handle import ModelHandle
from crosstune.probes.calibration import metrics as cm
from crosstune.probes.calibration.probe import score_questions
from crosstune.probes.questions import Question

BINS = 10


def as_handle(handle: ModelHandle, model: object, tag: str) -> ModelHandle:
    """The backbone's handle around a model in training (its fingerprint tagged, never cached)."""
    return dataclasses.replace(handle, model=model, fingerprint=f"{handle.fingerprint}+{tag}")


def contexts(handle: ModelHandle, questions: list[Question]) -> list[str]:
    """The RL prompts as the model sees them (its chat template, no answer cue)."""
    return [handle.render(rl_prompt(q), "") for q in questions]


def read_completions(questions: list[Question], texts: list[str]) -> pd.DataFrame:
    """Per completion: the parsed answer, confidence, format, correctness, repetition."""
    rows = []
    for q, text in zip(questions, texts, strict=True):
        p = parse(text, q.choices)
        rows.append({"qid": q.qid, "completion": text, "answer": q.answer, "predicted": p.answer,
                     "confidence": p.confidence, "format": p.format, "answered": p.answered,
                     "complete": p.complete, "correct": p.answer == q.answer,
                     "repetitive": repetitive(text)})
    return pd.DataFrame(rows)


def stated_items(handle: ModelHandle, questions: list[Question], max_new_tokens: int,
                 cache: ResultCache | None = None) -> pd.DataFrame:
    """Greedy completions to the RL prompt, read."""
    texts = Generator(handle, cache, max_new_tokens=max_new_tokens, batch_size=16).generate(
        contexts(handle, questions))
    return read_completions(questions, texts)


def modal_answer_share(answers: pd.Series) -> float:
    """The share of questions given the most common answer (missing answers count as other):
    near 1, the model gives one letter whatever the question; compare it with the answer key's."""
    given = answers.dropna()
    return float(given.value_counts().iloc[0] / len(answers)) if len(given) else 0.0


def _stated_values(items: pd.DataFrame) -> dict[str, float]:
    stated = items[items["complete"]]
    conf = stated["confidence"].to_numpy(float)
    correct = stated["correct"].to_numpy(bool)
    some = len(stated) > 0
    return {
        "accuracy": float(items["correct"].mean()),
        "parse_rate": float(items["answered"].mean()),
        "confidence_rate": float(items["complete"].mean()),
        "repetition_rate": float(items["repetitive"].mean()),
        "modal_answer_share": modal_answer_share(items["predicted"]),
        "stated_ece": cm.binned_ece(conf, correct, BINS, "width") if some else np.nan,
        "stated_brier": float(((conf - correct) ** 2).mean()) if some else np.nan,
        "stated_mean_confidence": float(conf.mean()) if some else np.nan,
    }


def stated_metrics(items: pd.DataFrame, boots: np.ndarray) -> pd.DataFrame:
    """metric, value, ci_low, ci_high (percentile bootstrap over questions), n."""
    values = _stated_values(items)
    resampled = [_stated_values(items.iloc[ix]) for ix in boots]
    rows = []
    for name, value in values.items():
        draws = np.array([r[name] for r in resampled], float)
        draws = draws[np.isfinite(draws)]
        low, high = np.quantile(draws, [0.025, 0.975]) if len(draws) else (np.nan, np.nan)
        rows.append({"metric": name, "value": value, "ci_low": low, "ci_high": high, "n": len(items)})
    return pd.DataFrame(rows)


def option_metrics(handle: ModelHandle, questions: list[Question], boots: np.ndarray,
                   cache: ResultCache | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(items, metrics) of the calibration probe's option-probability scoring, both orders."""
    items = score_questions(handle, questions, True, cache)
    return items, cm.summarise(items, BINS, boots)


def census(handle: ModelHandle, questions: list[Question], samples: int, max_new_tokens: int,
           seed: int, temperature: float, cache: ResultCache | None = None) -> dict[str, float]:
    """Format shares of `samples` sampled completions per question, their entropy (bits), and
    the parse and repetition rates of the same completions."""
    texts = Generator(handle, cache, max_new_tokens=max_new_tokens, batch_size=16,
                      temperature=temperature, seed=seed).sample(contexts(handle, questions), samples)
    flat_q = [q for q in questions for _ in range(samples)]
    items = read_completions(flat_q, [t for group in texts for t in group])
    shares = format_shares(items["format"])
    return {**{f"share_{f}": shares[f] for f in FORMATS}, "entropy_bits": entropy_bits(shares.values()),
            "parse_rate": float(items["answered"].mean()), "accuracy": float(items["correct"].mean()),
            "repetition_rate": float(items["repetitive"].mean()), "n": len(items)}
