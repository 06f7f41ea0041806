"""`crosstune probe calibration`: how well a model's option probabilities match its accuracy.

Each known-answer question is scored through the engine's OptionScorer with the choices as
listed and reversed (by default), each orientation renormalised over its option letters, and
the two averaged on the canonical order, so a preference for a letter position cancels out.
On a cross-tuning run folder every finetune is compared with its untuned backbone on the same
questions (paired bootstrap).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from crosstune.engine import ResultCache
from crosstune.engine.backend import Backend, Batching, Context
from crosstune.engine.cache import result_cache
from crosstune.models import ModelHandle
from crosstune.probes.calibration import files as F
from crosstune.probes.calibration import metrics as cm
from crosstune.probes.interface import ModelRequest, PageSection, ProbeDefaults, ProbeResult
from crosstune.probes.questions import (
    Question,
    build_questions,
    option_labels,
    prompt_text,
)
from crosstune.probes.targets import check_request, each_target, tuned_pairs
from crosstune.progress import Advance, Progress
from crosstune.respondents.model import answer_from_logprobs, as_backend
from crosstune.suite.prompts import ANSWER_CUE

INSTRUCTION = "Answer with the letter of exactly one option."


class CalibrationConfig(BaseModel):
    """Everything that determines the calibration numbers besides the model."""

    model_config = ConfigDict(extra="forbid")

    questions: int = Field(60, ge=1, le=1_000_000,
                           description="generated questions (ignored with questions_file)")
    seed: int = Field(0, description="seeds the generated questions and the bootstrap")
    questions_file: Path | None = Field(None, description="JSONL of question, choices, answer")
    both_orders: bool = Field(True, description="average choices as listed and reversed")
    bins: int = Field(10, ge=2, le=1000, description="bins of the binned ECEs (equal width and equal mass)")
    bootstrap: int = Field(1000, ge=10, le=cm.MAX_BOOTSTRAP, description="bootstrap resamples per CI")
    token_budget: int = Field(2048, ge=64, description="max padded tokens per forward batch")


def orders(q: Question, both: bool) -> list[tuple[int, ...]]:
    listed = tuple(range(len(q.choices)))
    return [listed, listed[::-1]] if both else [listed]


def score_questions(model: Backend | ModelHandle, questions: list[Question], both_orders: bool = True,
                    cache: ResultCache | None = None, token_budget: int = 2048,
                    progress: Advance | None = None) -> pd.DataFrame:
    """Per question: canonical-order probabilities (orientations averaged) and item scores."""
    backend = as_backend(model, cache, token_budget=token_budget)
    plan = [(q, order) for q in questions for order in orders(q, both_orders)]
    contexts = [Context(f"{prompt_text(q, order)}\n\n{INSTRUCTION}", ANSWER_CUE) for q, order in plan]
    labels = [option_labels(len(q.choices)) for q, _ in plan]
    logps = backend.option_logprobs(contexts, labels, progress)
    canon: dict[str, list[np.ndarray]] = {}
    mass: dict[str, list[float]] = {}
    for (q, order), lp in zip(plan, logps, strict=True):
        answer = answer_from_logprobs(lp, "")
        p = np.empty(len(order))
        p[list(order)] = answer.probs
        canon.setdefault(q.qid, []).append(p)
        mass.setdefault(q.qid, []).append(answer.valid_mass)
    probs = [np.mean(canon[q.qid], axis=0) for q in questions]
    items = cm.item_scores(probs, [q.answer for q in questions])
    return pd.concat([pd.DataFrame({
        "qid": [q.qid for q in questions], "kind": [q.kind for q in questions],
        "answer": [q.answer for q in questions],
        "probs": [p.tolist() for p in probs],
        "probs_by_order": [[x.tolist() for x in canon[q.qid]] for q in questions],
        "valid_mass": [float(np.mean(mass[q.qid])) for q in questions]}), items], axis=1)


def probe_model(backend: Backend, questions: list[Question], config: CalibrationConfig,
                boots: np.ndarray, cache: ResultCache | None, progress: Progress
                ) -> dict[str, pd.DataFrame]:
    """Answers, metrics with CIs, reliability bins and selective curve of one model."""
    n_queries = len(questions) * (2 if config.both_orders else 1)
    progress.stage(f"scoring {n_queries} prompts: {backend.name}", n_queries)
    items = score_questions(backend, questions, config.both_orders, cache, config.token_budget,
                            progress.advance)
    conf, correct = items["confidence"].to_numpy(float), items["correct"].to_numpy(bool)
    return {F.ANSWERS_PARQUET: items,
            F.METRICS_CSV: cm.summarise(items, config.bins, boots),
            F.RELIABILITY_CSV: cm.reliability_table(items, config.bins),
            F.SELECTIVE_CSV: cm.selective_curve(conf, correct)}


def differences(answers: pd.DataFrame, models: pd.DataFrame, config: CalibrationConfig,
                boots: np.ndarray) -> pd.DataFrame:
    """Every finetune minus its untuned backbone, per metric, paired over questions."""
    frames = []
    for tuned, base in tuned_pairs(models):
        a = answers[answers.model == tuned].reset_index(drop=True)
        b = answers[answers.model == base].set_index("qid").loc[a.qid].reset_index()
        frames.append(cm.paired_difference(a, b, config.bins, boots).assign(model=tuned, base=base))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["metric", "difference", "ci_low", "ci_high", "n", "model", "base"])


class Calibration(ProbeDefaults):
    """The calibration probe: every model of the request on the same known-answer questions."""

    name = "calibration"

    def run(self, targets: ModelRequest, config: CalibrationConfig, progress: Progress) -> ProbeResult:
        check_request(targets, self.name)
        questions = build_questions(config.questions_file, config.questions, config.seed)
        boots = cm.resamples(len(questions), config.bootstrap, config.seed)
        cache = result_cache()
        scorers: set[str] = set()

        def probe(backend: Backend) -> dict[str, pd.DataFrame]:
            scorers.add(backend.method_name(False))
            return probe_model(backend, questions, config, boots, cache, progress)

        tables, models = each_target(targets, probe, cache, Batching(token_budget=config.token_budget))
        tables[F.DIFFERENCES_CSV] = differences(tables[F.ANSWERS_PARQUET], models, config, boots)
        tables[F.MODELS_CSV] = models
        facts = {"scorer": ", ".join(sorted(scorers)), "answer_cue": ANSWER_CUE, "instruction": INSTRUCTION,
                 "n_questions": len(questions), "ece": {
                     "kind": "top-label", "bins": config.bins, "binned": ["equal-width", "equal-mass"],
                     "smooth": "relplot.smECE (SmoothECE, automatic bandwidth)"},
                 "brier": "multi-class: sum over options of (p - onehot)^2, in [0, 2]",
                 "ci": f"95% percentile bootstrap over questions, {config.bootstrap} resamples, paired"}
        return ProbeResult(tables, facts)

    def section(self, result: ProbeResult) -> PageSection:
        from crosstune.probes.calibration.page import calibration_section

        return calibration_section(result)


CALIBRATION = Calibration()
