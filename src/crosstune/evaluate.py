"""`crosstune eval` as a library call: generate pairs, ask a respondent, score, summarise, store."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crosstune.engine import OptionScorer, ResultCache
from crosstune.engine.backend import Backend, BackendOptions, Batching, backend_kind, open_backend
from crosstune.engine.cache import result_cache
from crosstune.errors import CrosstuneError, validated
from crosstune.eval_config import EvalConfig
from crosstune.models.handle import ModelHandle
from crosstune.models.loader import FormatChoice
from crosstune.progress import Advance, Progress
from crosstune.provenance import provenance
from crosstune.records import EvalManifest, EvalTiming, PositionPreference
from crosstune.respondents.base import Answer, Prompt, Respondent
from crosstune.respondents.model import ModelRespondent
from crosstune.scores.metrics import METRICS, pair_scores
from crosstune.scores.summary import summarise
from crosstune.served.settings import ServedSettings, served_id
from crosstune.store import POSITION_COLUMNS, EvalFiles, claim, slug, write_eval
from crosstune.suite.prompts import ANSWER_CUE, Side
from crosstune.suite.registry import select_biases
from crosstune.suite.scenarios import load_scenarios
from crosstune.suite.types import OPTION_LABELS, TestPair

SIDES: tuple[Side, Side] = ("control", "treatment")


@dataclass
class EvalResult:
    pairs: pd.DataFrame
    summary: pd.DataFrame
    manifest: EvalManifest
    position: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Mean probability by presented position, per number of options (position_preference)."""


MAX_PAIRS = 10_000
"""Pairs per bias a run may ask for; beyond it an evaluation runs for days."""


def build_pairs(config: EvalConfig) -> list[TestPair]:
    if config.pairs < 1:
        raise CrosstuneError(f"--pairs must be at least 1, got {config.pairs}")
    if config.pairs > MAX_PAIRS:  # said before the pairs are built, which alone takes minutes
        raise CrosstuneError(f"--pairs {config.pairs:,} would ask {4 * config.pairs:,} prompts per bias; "
                             f"at most {MAX_PAIRS:,} (the CI width shrinks as 1/sqrt(pairs))")
    scenarios = load_scenarios(config.scenarios) if config.scenarios is not None else None
    return [p for bias in select_biases(config.biases)
            for p in bias.generate(config.pairs, config.seed, config.orders, scenarios)]


def presentations(pairs: list[TestPair]) -> list[Prompt]:
    """Every prompt to ask: per pair, control then treatment, each in the pair's orders."""
    return [Prompt(p, side, rev) for p in pairs for side in SIDES for rev in p.orders]


def count_prompts(pairs: list[TestPair]) -> int:
    return 2 * sum(len(p.orders) for p in pairs)


Subject = ModelHandle | Backend | Respondent
"""What an evaluation asks: a loaded model, any backend, or a respondent (scripted ones)."""


def as_respondent(subject: Subject, config: EvalConfig,
                  cache: ResultCache | None = None) -> Respondent:
    """A model handle or a backend becomes a ModelRespondent; a respondent is used as it is."""
    if isinstance(subject, ModelHandle) or not isinstance(subject, Respondent):
        return ModelRespondent(subject, config.method, cache, config.token_budget)
    return subject


def evaluate(subject: Subject, config: EvalConfig,
             cache: ResultCache | None = None, progress: Advance | None = None,
             pairs: list[TestPair] | None = None) -> EvalResult:
    """Score every pair of the selected biases (`pairs`: already built from config)."""
    pairs = pairs if pairs is not None else build_pairs(config)
    respondent = as_respondent(subject, config, cache)
    table, answers = score_pairs(respondent, pairs, config.metric, progress)
    summary = summarise(table, config.metric, config.seed)
    position = position_preference(answers)
    manifest = EvalManifest(
        model=respondent.describe(), config=config.model_dump(mode="json"), scorer=respondent.method,
        shared_prefixes=respondent.method == OptionScorer.method, answer_cue=ANSWER_CUE,
        n_pairs=len(pairs), n_prompts=len(answers), orders=config.orders, metric=config.metric,
        position_preference=position_summary(position, answers), provenance=provenance())
    return EvalResult(table, summary, manifest, position)


def score_pairs(respondent: Respondent, pairs: list[TestPair], metric: str = "expected",
                progress: Advance | None = None) -> tuple[pd.DataFrame, list[Answer]]:
    """(per-pair table with every metric, the answers in presentation order)."""
    prompts = presentations(pairs)
    answers = respondent.answer(prompts, progress)
    if len(answers) != len(prompts):
        raise CrosstuneError(f"respondent {respondent.name!r} returned {len(answers)} answers for "
                             f"{len(prompts)} prompts; return one per prompt")
    by_pair: dict[str, dict[tuple[Side, bool], tuple[Prompt, Answer]]] = defaultdict(dict)
    for prompt, answer in zip(prompts, answers, strict=True):
        by_pair[prompt.pair.pair_id][(prompt.side, prompt.reversed_order)] = (prompt, answer)
    rows = [_pair_row(p, by_pair[p.pair_id], metric) for p in pairs]
    return pd.DataFrame(rows), answers


def _canonical(prompt: Prompt, answer: Answer) -> np.ndarray:
    probs = np.asarray(answer.probs, dtype=float)
    out = np.empty(len(probs))
    out[prompt.presented()] = probs
    return out


def _pair_row(pair: TestPair, got: dict[tuple[Side, bool], tuple[Prompt, Answer]],
              metric: str) -> dict[str, Any]:
    canon = {key: _canonical(*value) for key, value in got.items()}
    per_side = {side: [canon[(side, rev)] for rev in pair.orders] for side in SIDES}
    failed = any(np.isnan(c).any() for c in canon.values())
    p_control = np.mean(per_side["control"], axis=0)
    p_treatment = np.mean(per_side["treatment"], axis=0)
    nan = dict.fromkeys(METRICS, float("nan"))
    scores = nan if failed else pair_scores(p_control, p_treatment, pair.metric)
    listed = reversed_ = float("nan")
    if not failed and len(pair.orders) == 2:
        listed = pair_scores(canon[("control", False)], canon[("treatment", False)],
                             pair.metric)[metric]
        reversed_ = pair_scores(canon[("control", True)], canon[("treatment", True)],
                                pair.metric)[metric]
    m = pair.metric

    def joined(side: Side, attr: str) -> Any:
        values = [getattr(got[(side, rev)][1], attr) for rev in pair.orders]
        if attr == "valid_mass":
            return float(np.mean(values))
        return " | ".join(values) if any(values) else ""

    return {
        "pair_id": pair.pair_id, "bias": pair.bias, "scenario": pair.scenario,
        "orders": ",".join("reversed" if rev else "listed" for rev in pair.orders),
        "control_prompt": got[("control", pair.orders[0])][1].context,
        "treatment_prompt": got[("treatment", pair.orders[0])][1].context,
        "probs_control": p_control.tolist(), "probs_treatment": p_treatment.tolist(),
        "probs_control_orders": [c.tolist() for c in per_side["control"]],
        "probs_treatment_orders": [c.tolist() for c in per_side["treatment"]],
        "choice_control": np.nan if failed else int(np.argmax(p_control)),
        "choice_treatment": np.nan if failed else int(np.argmax(p_treatment)),
        "valid_mass_control": joined("control", "valid_mass"),
        "valid_mass_treatment": joined("treatment", "valid_mass"),
        **{f"{attr}_{side}_orders": [getattr(got[(side, rev)][1], attr) for rev in pair.orders]
           for attr in ("valid_mass", "outside_top_k") for side in SIDES},
        "raw_control": joined("control", "raw"), "raw_treatment": joined("treatment", "raw"),
        "parse_failed": failed,
        "excluded": (not failed) and bool(np.isnan(scores["expected"])),
        **{f"score_{name}": scores[name] for name in METRICS},
        "score_listed": listed, "score_reversed": reversed_,
        "textbook_control": pair.textbook[0], "textbook_treatment": pair.textbook[1],
        "metric_kind": m.kind, "k": m.k, "x1": m.x1, "x2": m.x2, "flip": m.flip,
    }


def position_preference(answers: list[Answer]) -> pd.DataFrame:
    """Mean probability per presented position (letter), per number of options."""
    sums: dict[int, np.ndarray] = {}
    counts: dict[int, int] = defaultdict(int)
    for answer in answers:
        probs = np.asarray(answer.probs, dtype=float)
        if np.isnan(probs).any():
            continue
        n = len(probs)
        sums[n] = sums.get(n, np.zeros(n)) + probs
        counts[n] += 1
    rows = [{"n_options": n, "position": i + 1, "label": OPTION_LABELS[i],
             "mass": float(sums[n][i] / counts[n]), "uniform": 1.0 / n, "n_prompts": counts[n]}
            for n in sorted(sums) for i in range(n)]
    return pd.DataFrame(rows, columns=POSITION_COLUMNS)


def position_summary(position: pd.DataFrame, answers: list[Answer]) -> PositionPreference:
    """Mean P(first letter), P(last letter) and their uniform reference over all prompts."""
    valid = [np.asarray(a.probs, dtype=float) for a in answers
             if not np.isnan(np.asarray(a.probs, dtype=float)).any()]
    if not valid:
        return PositionPreference()
    return PositionPreference(
        p_first=float(np.mean([p[0] for p in valid])),
        p_last=float(np.mean([p[-1] for p in valid])),
        p_uniform=float(np.mean([1.0 / len(p) for p in valid])),
        by_n_options={str(n): group["mass"].round(6).tolist()
                      for n, group in position.groupby("n_options")})


def make_config(**settings: Any) -> EvalConfig:
    """EvalConfig from user input; a bad value is named with what is allowed."""
    return validated(EvalConfig, **settings)


def evaluate_model(model: str, config: EvalConfig, folder: Path | None = None, *,
                   adapter: str | None = None, prompt_format: FormatChoice = "auto",
                   device: str | None = None, dtype: str | None = None,
                   trust_remote_code: bool = False, served: ServedSettings | None = None,
                   progress: Progress | None = None) -> tuple[EvalResult, Path]:
    """`crosstune eval` as one call, for every backend (a local model, `served:ID`): check
    everything that can be checked before opening the model (settings, biases, output folder,
    result cache), open it (load, or check the server), evaluate into the folder."""
    pairs = build_pairs(config)
    folder = folder or default_folder(model, adapter)
    claim(folder, "crosstune-eval")
    cache = result_cache()
    options = BackendOptions(adapter, prompt_format, device, dtype, trust_remote_code, served,
                             generate=config.method == "generate",
                             batching=Batching(token_budget=config.token_budget),
                             notify=getattr(progress, "note", None))
    if progress:
        progress.stage(f"checking {served.base_url} ({served_id(model)})" if backend_kind(model)
                       and served else f"loading {model}")
    backend = open_backend(model, options, cache)
    try:
        if progress:
            progress.stage(f"scoring {count_prompts(pairs)} prompts", count_prompts(pairs))
        result = evaluate_into(folder, backend, config, cache, progress and progress.advance, pairs)
    finally:
        backend.close()
    return result, folder


def default_folder(model: str, adapter: str | None = None) -> Path:
    """runs/eval-MODEL[-ADAPTER] (runs/eval-served-ID): where `crosstune eval` writes unless told."""
    name = served_id(model)
    if name is not None:
        return Path("runs") / f"eval-served-{slug(name)}"
    name = slug(Path(model).name or model) + (f"-{slug(Path(adapter).name)}" if adapter else "")
    return Path("runs") / f"eval-{name}"


def identity(handle: Subject, config: EvalConfig) -> dict[str, Any]:
    """What an evaluation folder belongs to: one model and one set of settings."""
    fingerprint = getattr(handle, "fingerprint", None) or handle.describe()["fingerprint"]
    return {"fingerprint": fingerprint, "settings": config.model_dump(mode="json")}


def evaluate_into(folder: Path, handle: Subject, config: EvalConfig,
                  cache: ResultCache | None = None, progress: Advance | None = None,
                  pairs: list[TestPair] | None = None) -> EvalResult:
    """Evaluate `handle` into `folder`: claimed before the work, written whole after it.

    A folder holding this model's results under the same settings is refreshed (the cache
    makes that cheap); any other content is refused before a single forward pass.
    """
    claim(folder, "crosstune-eval", identity(handle, config))
    started = time.perf_counter()
    result = evaluate(handle, config, cache, progress, pairs)
    timing = EvalTiming(load=getattr(handle, "load_seconds", 0.0),
                        evaluate=round(time.perf_counter() - started, 2))
    result = replace(result, manifest=result.manifest.model_copy(
        update={"identity": identity(handle, config), "timing_s": timing}))
    write_eval(folder, EvalFiles(result.pairs, result.summary, result.position, result.manifest))
    return result
