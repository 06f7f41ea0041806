"""`crosstune probe values`: score every lexicon word under every prompt, rank, test families."""

from __future__ import annotations

import gc
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from crosstune.analysis.matrix import labels_from_rules, labels_from_table
from crosstune.engine.cache import ResultCache, result_cache
from crosstune.errors import CrosstuneError
from crosstune.probes.interface import ModelRequest, PageSection, ProbeResult, TargetKind
from crosstune.probes.targets import load
from crosstune.probes.values import external, lm, reward, stats
from crosstune.probes.values.files import (
    ANOVA_FILE,
    CELLS_FILE,
    DROPPED_FILE,
    IMPLICIT_CATEGORIES_FILE,
    IMPLICIT_FILE,
    IMPLICIT_TOP_FILE,
    IMPLICIT_WORDS_FILE,
    MEAN_OF_MEDIANS_FILE,
    MEDIANS_FILE,
    MIXED_FILE,
    MODEL_MEANS_FILE,
    SCORES_FILE,
    WORDS_FILE,
)
from crosstune.probes.values.implicit_reward import by_decoded, category_sums, extremes, shared_mwlr
from crosstune.probes.values.lexicon import Lexicon, read_lexicon
from crosstune.probes.values.prompts import DEFAULT_IMPLICIT_KEY, ValuePrompt, framing_of, select_prompts
from crosstune.probes.values.ranks import median_ranks, rank_words
from crosstune.progress import Progress
from crosstune.served.settings import served_id
from crosstune.store import slug


class ValuesConfig(BaseModel):
    """Everything that determines the values numbers besides the models (counts bounded: below
    is meaningless, above runs for hours)."""

    model_config = ConfigDict(extra="forbid")

    lexicon: Path | None = Field(None, description=".csv / .dic / .dicx; default: the shipped demo "
                                                   "agency/communion list")
    labels: Path | None = Field(None, description="family per model (CSV or TOML, a `family` column), "
                                                  "as in `analyze`")
    rules: list[str] = Field(default_factory=list, description="family=REGEX on model names")
    reference_family: str | None = None
    prompts: list[str] = Field(default_factory=list, description="prompt keys to use; default all (the "
                               "54 standard ones plus the prompt file's)")
    prompt_file: Path | None = None
    implicit_prompts: list[str] = Field(default_factory=lambda: [DEFAULT_IMPLICIT_KEY])
    output_index: int | None = Field(None, ge=0, strict=True)
    common_words: bool = Field(True, description="rank only the words every model could score, so "
                                                 "ranks compare across models")
    top: int = Field(20, ge=1, le=10_000, strict=True)
    permutations: int = Field(9999, ge=1, le=1_000_000, strict=True)
    seed: int = 0
    batch_size: int = Field(8, ge=1, le=4096, strict=True, description="reward models: texts per "
                                                                       "forward pass")


def values_request(models: list[str] | None = None, reward_models: list[str] | None = None,
                   rewards: list[Path] | None = None, **loading: object) -> ModelRequest:
    """The request of exactly one kind of input: LMs, reward models or score CSVs."""
    given = [(kind, sources) for kind, sources in (("lm", models), ("reward", reward_models),
                                                   ("external", rewards)) if sources]
    if len(given) != 1:
        raise CrosstuneError("give exactly one kind of input: --model (LMs), --reward-model, or "
                             "--rewards (score CSVs)" + (f"; got {', '.join(k for k, _ in given)}"
                                                         if given else ""))
    kind, sources = given[0]
    return ModelRequest(tuple(str(s) for s in sources), kind, **loading)  # type: ignore[arg-type]


@dataclass
class _Scored:
    scores: list[pd.DataFrame] = field(default_factory=list)
    words: list[pd.DataFrame] = field(default_factory=list)
    dropped: list[pd.DataFrame] = field(default_factory=list)
    described: list[dict] = field(default_factory=list)
    decoded: dict[str, dict[str, pd.Series]] = field(default_factory=dict)
    """model -> implicit prompt key -> log-prob per decoded token."""


FACTORS = ("family", "file")  # columns a values labels file may give


def model_name(spec: str) -> str:
    """A short model name from an embedded name, folder or hub id."""
    return slug(Path(spec).name or spec)


def assign_families(models: list[str], labels: Path | None, rules: list[str]) -> dict[str, str]:
    """model -> family, from a labels file's `family` column or family=REGEX rules; default: the model."""
    if labels is None and not rules:
        return {m: m for m in models}
    table = labels_from_table(labels, FACTORS) if labels else labels_from_rules(models, rules)
    if "family" not in table.columns:
        raise CrosstuneError("the labels give no family: use a `family` column in --labels "
                             "or --rule family=REGEX")
    missing = [m for m in models if m not in table.index]
    if missing:
        raise CrosstuneError(f"model(s) without a family in {labels}: {missing}")
    families = {m: str(table.loc[m, "family"]) for m in models}
    empty = [m for m, family in families.items() if not family.strip()]
    if empty:
        raise CrosstuneError(f"model(s) with an empty family label: {empty}; as in analyze, every model "
                             "needs a family (a --rule's capture group must match some text)")
    return families


def _lexicon_words(lexicon: Lexicon, vocabulary: list[str] | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    if vocabulary is None:
        return lexicon.entries.rename(columns={"term": "word"}), pd.DataFrame(
            columns=["category", "word", "reason"])
    return lexicon.expand(vocabulary)


def _has_wildcards(lexicon: Lexicon) -> bool:
    return bool(lexicon.entries["term"].str.endswith("*").any())


def _score_lms(targets: ModelRequest, names: list[str], prompts: list[ValuePrompt],
               implicit: list[ValuePrompt], lexicon: Lexicon, cache: ResultCache, progress: Progress
               ) -> _Scored:
    out = _Scored()
    for spec, name in zip(targets.models, names, strict=True):
        progress.stage(f"loading {spec}")
        handle = load(targets, spec)
        pair = bool(implicit) and len(targets.models) == 2
        decoded = lm.decoded_vocabulary(handle.tokenizer) if pair or _has_wildcards(lexicon) else []
        vocabulary = lm.vocabulary_words(decoded) if _has_wildcards(lexicon) else None
        words, unmatched = _lexicon_words(lexicon, vocabulary)
        contexts = [lm.render(handle, p.text) for p in prompts]
        tokens = lm.single_token_words(handle, contexts, list(dict.fromkeys(words["word"])))
        dropped = pd.concat([unmatched[["word", "reason"]], tokens.dropped], ignore_index=True)
        if not tokens.ids:
            raise CrosstuneError(
                f"no lexicon word is a single token of {name}: all {words['word'].nunique()} dropped "
                f"({_reasons(dropped)}); use a lexicon of common single words, or score a reward model")
        progress.stage(f"scoring {len(tokens.ids)} words x {len(prompts)} prompts with {name}", len(prompts))
        logp = lm.score_words(handle, contexts, tokens, cache, progress.advance)
        out.scores.append(pd.DataFrame(logp, columns=list(tokens.ids)).assign(
            prompt=[p.key for p in prompts]).melt(id_vars="prompt", var_name="word", value_name="score")
            .assign(model=name))
        out.words.append(words.assign(model=name))
        out.dropped.append(dropped.assign(model=name))
        out.described.append({**handle.describe(), "name": name, "spec": spec})
        if pair:
            contexts = [lm.render(handle, p.text) for p in implicit]
            out.decoded[name] = {p.key: by_decoded(decoded, row) for p, row in
                                 zip(implicit, lm.next_token_logprobs(handle, contexts, decoded, cache),
                                     strict=True)}
        del handle
        gc.collect()
    return out


def _score_reward_models(targets: ModelRequest, config: ValuesConfig, names: list[str],
                         prompts: list[ValuePrompt], lexicon: Lexicon, cache: ResultCache,
                         progress: Progress) -> _Scored:
    out = _Scored()
    for spec, name in zip(targets.models, names, strict=True):
        progress.stage(f"loading reward model {spec}")
        rm = reward.load_reward_model(spec, config.output_index, targets.device, targets.dtype,
                                      targets.trust_remote_code)
        vocabulary = (lm.vocabulary_words(lm.decoded_vocabulary(rm.tokenizer))
                      if _has_wildcards(lexicon) else None)
        words, unmatched = _lexicon_words(lexicon, vocabulary)
        unique = list(dict.fromkeys(words["word"]))
        if not unique:
            raise CrosstuneError(f"no lexicon word is left for {name}: all {len(unmatched)} wildcard terms "
                                 "match no word of its vocabulary; check the lexicon")
        texts = [reward.render_reply(rm, p.text, w) for p in prompts for w in unique]
        progress.stage(f"scoring {len(unique)} words x {len(prompts)} prompts with {name}", len(texts))
        values = reward.score_texts(rm, texts, cache, config.batch_size, progress.advance)
        out.scores.append(pd.DataFrame({"model": name, "prompt": [p.key for p in prompts for _ in unique],
                                        "word": unique * len(prompts), "score": values}))
        out.words.append(words.assign(model=name))
        out.dropped.append(unmatched[["word", "reason"]].assign(model=name))
        out.described.append({**rm.describe(), "name": name, "spec": spec})
        del rm
        gc.collect()
    return out


def _read_external(targets: ModelRequest, names: list[str], prompts: list[ValuePrompt] | None,
                   lexicon: Lexicon) -> _Scored:
    out = _Scored()
    for path, name in zip(map(Path, targets.models), names, strict=True):
        long = external.read_rewards(path, name)
        if prompts is not None:
            columns = list(dict.fromkeys(long["prompt"]))
            missing = [p.key for p in prompts if p.key not in columns]
            if missing:
                raise CrosstuneError(f"rewards file {path} has no column for prompt key(s) {missing} "
                                     f"(its prompt columns: {columns[:6]}); drop --prompt or add them")
            long = long[long["prompt"].isin({p.key for p in prompts})]
        vocabulary = list(long["response"].astype(str)) if _has_wildcards(lexicon) else None
        words, unmatched = _lexicon_words(lexicon, vocabulary)
        kept, missing = external.match_lexicon(long, words)
        if kept.empty:
            raise CrosstuneError(f"rewards file {path}: no response is a lexicon word "
                                 f"({len(words)} words dropped: no matching response); check the lexicon")
        out.scores.append(kept)
        out.words.append(words.assign(model=name))
        out.dropped.append(pd.concat([unmatched[["word", "reason"]],
                                      missing[["word", "reason"]]], ignore_index=True).assign(model=name))
        out.described.append({"name": name, "kind": "external scores", "file": str(path),
                              "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    return out


def _reasons(dropped: pd.DataFrame) -> str:
    counts = dropped["reason"].str.replace(r" \(\d+ tokens\)", "", regex=True).value_counts()
    return ", ".join(f"{n} {reason}" for reason, n in counts.items()) or "none"


def _restrict_to_common(scored: _Scored) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    scores = pd.concat(scored.scores, ignore_index=True)
    dropped = pd.concat(scored.dropped, ignore_index=True)
    words = pd.concat(scored.words, ignore_index=True)
    per_model = scores.groupby("model")["word"].agg(set)
    common = set.intersection(*per_model) if len(per_model) else set()
    if not common:
        raise CrosstuneError("no lexicon word could be scored by every model; rerun with "
                             "--no-common-words to rank each model's own words")
    extra = [(m, w, "not scorable by every model (ranks compare the common words)")
             for m, got in per_model.items() for w in sorted(got - common)]
    dropped = pd.concat([dropped, pd.DataFrame(extra, columns=["model", "word", "reason"])],
                        ignore_index=True)
    return scores[scores["word"].isin(common)], words[words["word"].isin(common)], dropped


def check_not_served(targets: ModelRequest) -> None:
    """What a server cannot give, said in one line before any work."""
    served = [m for m in targets.models if served_id(m) is not None]
    if served and targets.kind == "reward":
        raise CrosstuneError(f"--reward-model {served[0]}: a reward model's scalar head cannot be "
                             "read through an OpenAI-compatible server; give its folder or hub id")
    if served:
        raise CrosstuneError(f"--model {served[0]}: the values probe reads every lexicon word's "
                             "log-probability (and the whole vocabulary for the implicit reward) "
                             "after each prompt, and a server gives only its top k next tokens; "
                             "probe a local copy of the model (its folder, hub id or .gguf)")


def run_fingerprint(targets: ModelRequest) -> str:
    """The folder's identity: which inputs were probed (a folder is refreshed only by the same)."""
    given = {kind: list(targets.models) if targets.kind == kind else []
             for kind in ("lm", "reward", "external")}
    ident = json.dumps({"probe": "values", "models": given["lm"], "reward_models": given["reward"],
                        "rewards": given["external"]}, sort_keys=True)
    return hashlib.sha256(ident.encode()).hexdigest()[:32]


def model_names(targets: ModelRequest, config: ValuesConfig) -> list[str]:
    """Score files: named by the labels file or their stem; models: by their folder or id."""
    if targets.kind == "external":
        labels = labels_from_table(config.labels, FACTORS) if config.labels else None
        return external.model_names([Path(m) for m in targets.models], labels)
    names = [model_name(s) for s in targets.models]
    if len(set(names)) < len(names):
        raise CrosstuneError(f"two models share a name: {names}; give distinct folders")
    return names


class Values:
    """The values probe (Big Two): LMs, reward models, or published score tables, by family."""

    name = "values"

    def folder(self, targets: ModelRequest, config: ValuesConfig) -> Path:
        """runs/values-MODELS."""
        return Path("runs") / f"values-{slug('-'.join(model_names(targets, config)))[:80]}"

    def identity(self, targets: ModelRequest, config: ValuesConfig) -> dict[str, str]:
        return {"fingerprint": run_fingerprint(targets)}

    def run(self, targets: ModelRequest, config: ValuesConfig, progress: Progress) -> ProbeResult:
        started = time.perf_counter()
        kind = targets.kind
        check_not_served(targets)
        if kind == "external":  # the CSV columns are the prompts; a key needs no text here
            keys = list(dict.fromkeys(config.prompts))
            prompts = [ValuePrompt(k, "") for k in keys if framing_of(k)]
        else:
            prompts = select_prompts(config.prompts or None, config.prompt_file)
        implicit = select_prompts(config.implicit_prompts, config.prompt_file) if kind == "lm" else []
        lexicon = read_lexicon(config.lexicon)
        names = model_names(targets, config)
        families = assign_families(names, config.labels, config.rules)
        order = list(dict.fromkeys(families.values()))
        reference = config.reference_family or order[0]
        if reference not in order:
            raise CrosstuneError(f"--reference-family {reference!r} is none of the families {order}")
        order = [reference, *[f for f in order if f != reference]]
        if kind == "reward":
            for spec in targets.models:
                reward.check_reward_spec(spec)

        cache = result_cache()
        if kind == "lm":
            scored = _score_lms(targets, names, prompts, implicit, lexicon, cache, progress)
        elif kind == "reward":
            scored = _score_reward_models(targets, config, names, prompts, lexicon, cache, progress)
        else:
            scored = _read_external(targets, names, prompts or None, lexicon)
        cache.close()
        scored_at = time.perf_counter()

        if config.common_words:
            scores, words, dropped = _restrict_to_common(scored)
        else:
            scores = pd.concat(scored.scores, ignore_index=True)
            words = pd.concat(scored.words, ignore_index=True)
            dropped = pd.concat(scored.dropped, ignore_index=True)
        words = words[["category", "word"]].drop_duplicates(ignore_index=True)
        ranked = rank_words(scores)
        medians = median_ranks(ranked, words, families)
        ranked = ranked.assign(family=ranked["model"].map(families),
                               framing=ranked["prompt"].map(framing_of))
        data = stats.with_levels(medians, order, lexicon.categories)
        notes = _dropped_notes(names, scored, dropped)
        tables = {SCORES_FILE: ranked, MEDIANS_FILE: medians, MODEL_MEANS_FILE: stats.model_means(data),
                  WORDS_FILE: words, DROPPED_FILE: dropped[["model", "word", "reason"]]}
        mixed_info = _statistics(data, kind, config, tables, notes)
        if scored.decoded:
            tables.update(_implicit_tables(scored.decoded, names, words, config.top))
        facts = {
            "command": "probe values", "scorer": kind,
            "model": {"name": "probe values: " + ", ".join(names), "fingerprint": run_fingerprint(targets)},
            "models": scored.described, "families": families, "family_order": order,
            "reference_levels": {"family": reference, "category": lexicon.categories[0],
                                 "framing": "positive"},
            "lexicon": {"source": lexicon.source, "categories": lexicon.categories,
                        "n_terms": len(lexicon.entries), "n_words_ranked": int(words["word"].nunique())},
            "prompts": list(dict.fromkeys(medians["prompt"])),
            "implicit_prompts": [p.key for p in implicit],
            "settings": {"common_words": config.common_words, "permutations": config.permutations,
                         "seed": config.seed, "batch_size": config.batch_size, "top": config.top,
                         "output_index": config.output_index, "rules": config.rules,
                         "labels": str(config.labels) if config.labels else None},
            "mixed_model": mixed_info}
        timing = {"scoring": round(scored_at - started, 2),
                  "statistics": round(time.perf_counter() - scored_at, 2)}
        return ProbeResult(tables, facts, notes, timing)

    def section(self, result: ProbeResult) -> PageSection:
        from crosstune.probes.values.report import values_section

        return values_section(result)


VALUES = Values()


def _statistics(data: pd.DataFrame, kind: TargetKind, config: ValuesConfig, tables: dict[str, pd.DataFrame],
                notes: list[str]) -> dict:
    """Family tables, cell tests, the mixed model and (LMs) the ANOVA, added to `tables`;
    returns the mixed model's fit information.
    """
    mixed_info: dict = {}
    if data["family"].nunique() > 1:
        tables[MEAN_OF_MEDIANS_FILE] = stats.mean_of_medians(data)
        tables[CELLS_FILE] = stats.cell_tests(data, config.permutations, config.seed)
    else:
        notes.append("one family only: no family comparison (give --labels or --rule family=REGEX)")
    if data["model"].nunique() > 1:
        try:
            mixed = stats.mixed_model(data)
        except (np.linalg.LinAlgError, ValueError) as err:
            notes.append(f"mixed model not fitted ({type(err).__name__}: {err}); too few prompts or "
                         "models for median_rank ~ family * category * framing?")
        else:
            tables[MIXED_FILE], mixed_info = mixed.coefficients, mixed.info
            notes += [f"mixed model: {w}" for w in mixed.info["warnings"]]
        if data.groupby("family", observed=True)["model"].nunique().max() < 2:
            notes.append("each family has one model: the per-model random intercept cannot be told "
                         "apart from the family effect; family terms describe these models, not families")
    else:
        notes.append("one model only: no mixed model (it needs a random intercept per model)")
    if kind == "lm":
        try:
            tables[ANOVA_FILE] = stats.lm_anova(data)
        except (np.linalg.LinAlgError, ValueError) as err:  # a saturated design: no residual
            notes.append(f"OLS ANOVA not computed ({str(err).splitlines()[0][:120]}): "
                         "median_rank ~ category * framing * model needs more than one prompt per "
                         "framing; give more --prompt keys")
        notes.append("LM log-probabilities mix preference with word frequency: read category "
                     "differences against framing and family, not on their own")
    return mixed_info


def _dropped_notes(names: list[str], scored: _Scored, dropped: pd.DataFrame) -> list[str]:
    notes = []
    for name, words in zip(names, scored.words, strict=True):
        mine = dropped[dropped["model"] == name]
        total = words["word"].nunique()
        notes.append(f"{name}: {mine['word'].nunique()} of {total} lexicon words dropped"
                     + (f" ({_reasons(mine.drop_duplicates('word'))})" if len(mine) else ""))
    return notes


def _implicit_tables(decoded: dict[str, dict[str, pd.Series]], names: list[str], words: pd.DataFrame,
                     top: int) -> dict[str, pd.DataFrame]:
    first, second = names
    every, tops, sums, matched = [], [], [], []
    for key in decoded[first]:
        table = shared_mwlr(decoded[first][key], decoded[second][key]).assign(
            prompt=key, model_1=first, model_2=second)
        every.append(table)
        tops.append(extremes(table, top))
        cat, hits = category_sums(table, words)
        sums.append(cat.assign(prompt=key, model_1=first, model_2=second))
        matched.append(hits.assign(prompt=key))
    return {IMPLICIT_FILE: pd.concat(every, ignore_index=True),
            IMPLICIT_TOP_FILE: pd.concat(tops, ignore_index=True),
            IMPLICIT_CATEGORIES_FILE: pd.concat(sums, ignore_index=True),
            IMPLICIT_WORDS_FILE: pd.concat(matched, ignore_index=True)}
