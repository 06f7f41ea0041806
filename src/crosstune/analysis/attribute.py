"""The whole attribution analysis as one call, and the plain-language verdict it supports."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crosstune.analysis.clustering import clustering_table, cosine_similarity, kmeans_agreement, pca
from crosstune.analysis.matrix import BiasMatrix
from crosstune.analysis.origins import (
    CONTENT_FLOOR,
    DEFAULT_MIN_EFFECT,
    SIGNALS,
    OriginSettings,
    PairScores,
    design_facts,
    origin_sentence,
    origin_table,
    unregistered,
)
from crosstune.analysis.seeds import reference_agreement, seed_sd, seeded, sign_agreement
from crosstune.analysis.variance import backbone_vs_instruction, estimability, variance_shares
from crosstune.errors import CrosstuneError
from crosstune.records import BackboneTest

MIN_MODELS = 3
"""Models an analysis needs (seed spread, clustering into at least two groups)."""


@dataclass
class Analysis:
    """Every table of the analysis, the settings that produced them, and the verdict."""

    matrix: BiasMatrix
    tables: dict[str, pd.DataFrame]
    settings: dict[str, Any]
    verdict: str
    notes: list[str] = field(default_factory=list)
    pca_explained: list[float] = field(default_factory=list)
    backbone_test: BackboneTest | None = None


def analyze(m: BiasMatrix, n_permutations: int = 999, standardize: bool = False, seed: int = 0,
            references: dict[str, pd.Series] | None = None, band: float | None = None,
            pairs: PairScores | None = None, min_effect: float = DEFAULT_MIN_EFFECT,
            reference_kind: str = "reference model", content: pd.DataFrame | None = None) -> Analysis:
    """Seed spread, similarity, clustering by each factor, K-Means, PCA, variance shares, and
    the per-bias origin calls.

    `references` maps a backbone to a reference bias vector (e.g. its released finetune or its
    untuned self) that the seed majority of each of its groups is compared with, directions within
    ±band neutral; the band depends on the metric's scale, so it must be given with the
    references. `pairs`: every model's per-pair scores, the measurement noise of the origin calls
    (without them seeds are the only noise seen); `min_effect`: the smallest difference in score
    units that can be called an origin; `reference_kind`: what the references are, in the verdict's
    words ('untuned backbone' for a cross-tuning run, else 'reference model'); `content`: models x
    biases, the share of pairs each model answers by content (scores/content.py): a bias most
    analysed models answer by position is `not measured`, and models that lost their reference's
    content reading are flagged.
    """
    if len(m.scores) < MIN_MODELS or m.scores.shape[1] < 1:
        raise CrosstuneError(f"{len(m.scores)} model(s) x {m.scores.shape[1]} bias(es) selected: the "
                             f"analysis needs at least {MIN_MODELS} models and 1 bias; check --exclude "
                             "and labels")
    if references and band is None:
        raise CrosstuneError("reference models given without a neutral band: pass --band")
    if band is not None and not (np.isfinite(band) and band >= 0):
        raise CrosstuneError(f"--band must be a finite number >= 0, got {band}")
    spread = m.scores.std(axis=0, ddof=0)
    if not (spread > 0).any():
        raise CrosstuneError("every model has the same score on every bias: there is no variation to "
                             "attribute; check that the inputs are different models")
    x = m.values(standardize)
    tables: dict[str, pd.DataFrame] = {
        "scores": m.scores.reset_index(names="model"),
        "factors": m.factors.reset_index(names="model"),
        "similarity": cosine_similarity(m.scores).reset_index(names="model"),
    }
    notes = list(m.notes)
    if (spread == 0).any():
        notes.append(f"biases on which every model scores the same (no variance share): "
                     f"{list(spread.index[spread == 0])}")
    ignored = [c for c in m.factors.columns if c not in ("backbone", "instruction", "seed")]
    if ignored:
        notes.append(f"label column(s) {ignored} are not analysed (only backbone, instruction, seed)")
    labellings = m.factors[[c for c in ("backbone", "instruction") if c in m.factors]]
    tables["clustering"] = clustering_table(x, labellings, n_permutations, seed)
    tables["kmeans"] = kmeans_agreement(x, labellings, seed) if len(x) > 3 else pd.DataFrame()
    coords, explained = pca(m.scores, x)
    tables["pca"] = coords.join(m.factors).reset_index(names="model")
    backbone_test = None
    if {"backbone", "instruction"} <= set(m.factors.columns):
        not_seeds = sorted(m.factors.index[~seeded(m)])
        if not_seeds:
            notes.append(f"no seed label, so not counted as seeds: references in no origin test and "
                         f"no seed spread (still in the clustering and variance shares): {not_seeds}")
        tables["seed_sd"] = seed_sd(m)
        tables["sign_agreement"] = sign_agreement(m)
        if references:
            tables["reference_agreement"] = reference_agreement(m, references, band)  # type: ignore[arg-type]
        origin_settings = OriginSettings(min_effect=min_effect, seed=seed)
        reading = None
        if content is not None and not content.empty:
            tables["content"] = content_check(m, content, references or {})
            reading = reads_content(m, content)
        tables["origins"] = origin_table(m, pairs, origin_settings, reading)
        other = unregistered(list(m.scores.columns))
        if other and len(other) < m.scores.shape[1]:
            notes.append(f"row(s) matching no registered bias (case and spacing ignored), tested in "
                         f"their own Benjamini-Hochberg family so they do not move the biases' calls; "
                         f"leave one out with --exclude NAME: {other}")
        signal = list(tables["origins"].bias[tables["origins"].origin.isin(SIGNALS)])
        shares = variance_shares(m)
        tables["variance"] = shares.per_bias
        aggregates = shares.aggregates
        if signal:
            aggregates.loc["pooled_signal"] = variance_shares(_subset(m, signal)).aggregates.loc["pooled"]
        tables["variance_aggregates"] = aggregates.reset_index()
        backbone_test = backbone_vs_instruction(_subset(m, signal) if signal else m, n_permutations, seed)
        if backbone_test is not None:
            tested = len(signal) if signal else m.scores.shape[1]
            backbone_test = backbone_test.model_copy(update={"biases_tested": tested})
        if references:
            tables["movement"] = movement(m, references)
        notes += estimability(m)
        if pairs is None:
            notes.append("no per-pair scores: the origin calls see seeds as the only noise "
                         "(measurement noise from the pairs is unknown for a plain score table)")
    settings = {"n_permutations": n_permutations, "standardize": standardize, "seed": seed,
                "neutral_band": band if references else None,
                "min_effect": min_effect if "origins" in tables else None,
                "n_models": len(m.scores), "n_biases": m.scores.shape[1],
                "references": reference_kind if references else None}
    analysis = Analysis(m, tables, settings, "", notes, explained.tolist(), backbone_test)
    analysis.verdict = verdict(analysis)
    return analysis


def reads_content(m: BiasMatrix, content: pd.DataFrame) -> pd.Series:
    """Per bias, the share of the seeded models that read its content on most of its pairs."""
    models = [x for x in m.scores.index[seeded(m)] if x in content.index]
    shares = content.reindex(index=models, columns=m.scores.columns)
    return (shares >= CONTENT_FLOOR).where(shares.notna()).mean()


def content_check(m: BiasMatrix, content: pd.DataFrame, references: dict[str, pd.Series]
                  ) -> pd.DataFrame:
    """Per analysed model: its mean content share over biases beside its backbone reference's, and
    whether it answers by position where the reference read the content (share below half the
    reference's; below 0.1 with no reference)."""
    rows = []
    for model, backbone in m.factors["backbone"].items():
        if model not in content.index:
            continue
        own = float(content.loc[model].reindex(m.scores.columns).mean())
        ref = references.get(backbone)
        ref_share = (float(content.loc[ref.name].reindex(m.scores.columns).mean())
                     if ref is not None and ref.name in content.index else float("nan"))
        flagged = own < 0.5 * ref_share if np.isfinite(ref_share) else own < 0.1
        rows.append({"model": model, "backbone": backbone, "content_share": own,
                     "reference": ref.name if ref is not None else "", "reference_content_share": ref_share,
                     "answers_by_position": bool(flagged)})
    return pd.DataFrame(rows, columns=["model", "backbone", "content_share", "reference",
                                       "reference_content_share", "answers_by_position"])


def _content_sentence(check: pd.DataFrame) -> str:
    """The models that answer by letter position, named like an unlearned finetune."""
    flagged = check[check.answers_by_position]
    if flagged.empty:
        return ""
    names = ", ".join(f"{r.model} ({r.content_share:.0%}, reference {r.reference_content_share:.0%})"
                      if np.isfinite(r.reference_content_share) else f"{r.model} ({r.content_share:.0%})"
                      for r in flagged.itertuples())
    return (f" {len(flagged)} of {len(check)} models answer by letter position where their reference "
            f"read the content (share of pairs read: {names}): a model that answers by position "
            "scores 0 on every bias by construction, so its scores say nothing about the biases.")


def _subset(m: BiasMatrix, biases: list[str]) -> BiasMatrix:
    return BiasMatrix(m.scores[biases], m.factors, m.notes)


def movement(m: BiasMatrix, references: dict[str, pd.Series]) -> pd.DataFrame:
    """Per finetuned model: how far its bias vector moved from its backbone's reference (RMS and
    largest change over biases), so a verdict can say whether finetuning changed anything."""
    rows = []
    for model, backbone in m.factors["backbone"].items():
        if backbone not in references:
            continue
        change = m.scores.loc[model] - references[backbone].reindex(m.scores.columns)
        rows.append({"model": model, "backbone": backbone, "reference": references[backbone].name,
                     "rms_change": float(np.sqrt(np.nanmean(change**2))),
                     "max_change": float(np.nanmax(np.abs(change))),
                     "largest_on": str(change.abs().idxmax())})
    return pd.DataFrame(rows, columns=["model", "backbone", "reference", "rms_change", "max_change",
                                       "largest_on"])


SETTING_NAMES = {"min_effect": "minimum effect for an origin call (score units)",
                 "n_models": "models", "n_biases": "biases", "n_permutations": "permutations per p-value",
                 "standardize": "features standardised", "seed": "random seed",
                 "neutral_band": "neutral band for reference directions"}


def settings_lines(settings: dict[str, Any]) -> list[str]:
    """The settings as 'name: value' lines a reader can scan (not a Python dict)."""
    def show(value: Any) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        return "not used" if value is None else str(value)

    return [f"{SETTING_NAMES.get(k, k.replace('_', ' '))}: {show(v)}" for k, v in settings.items()]


def strength(p: float) -> str:
    """Words for a p-value, so the verdict never claims more than the number says."""
    if p < 0.01:
        return "strong evidence"
    if p < 0.05:
        return "evidence"
    if p < 0.10:
        return "weak evidence (not significant at 0.05)"
    return "no significant evidence"


def verdict(a: Analysis) -> str:
    """One paragraph that says what the numbers support, and how strongly."""
    parts = []
    clustering = a.tables["clustering"].set_index("labelling")
    for factor in ("backbone", "instruction"):
        if factor not in clustering.index:
            continue
        row = clustering.loc[factor]
        if np.isnan(row.silhouette):
            parts.append(f"grouping by {factor} cannot be tested ({row.n_groups} group(s) "
                         f"for {a.settings['n_models']} models)")
        else:
            parts.append(f"grouping by {factor} gives silhouette {row.silhouette:.2f} "
                         f"(permutation p = {row.p_silhouette:.3f}, {row.null}{_floor(row.null)})")
    text = "Across {} models and {} biases, {}.".format(
        a.settings["n_models"], a.settings["n_biases"], "; ".join(parts) or "no labelling to test")
    if "origins" in a.tables:
        origins = a.tables["origins"]
        facts = design_facts(a.matrix)
        facts = dataclasses.replace(facts, has_pairs=bool(origins.n_pairs.max()))
        text += origin_sentence(origins, OriginSettings(min_effect=a.settings["min_effect"]), facts)
    if "content" in a.tables:
        text += _content_sentence(a.tables["content"])
    if "movement" in a.tables and not a.tables["movement"].empty:
        text += _movement_sentence(a.tables["movement"], a.tables["origins"], a.settings["min_effect"],
                                   a.settings.get("references") or "reference model")
    if "variance" in a.tables:
        aggregates = a.tables["variance_aggregates"].set_index("aggregate")
        if "pooled_signal" in aggregates.index:
            n = int((a.tables["origins"].origin.isin(SIGNALS)).sum())
            text += _shares_sentence(aggregates.loc["pooled_signal"], f"the {n} biases with a signal")
            text += _gap_sentence(a.backbone_test)
        else:
            text += (" No bias carries a signal, so no factor is called dominant: the shares over "
                     "all biases (variance.csv) divide differences that are below the minimum "
                     f"effect or not distinguishable from noise{_noise_gap(a.backbone_test)}.")
    if "reference_agreement" in a.tables and not a.tables["reference_agreement"].empty:
        share = a.tables["reference_agreement"].share_preserved.mean()
        text += (f" The seeds' majority keeps the reference model's direction on {share:.0%} of "
                 "biases on average.")
    if "seed_sd" in a.tables and not a.tables["seed_sd"].empty:
        text += f" Seed noise: mean per-bias SD across seeds {a.tables['seed_sd'].mean_sd.mean():.3f}."
    return text


def _floor(null: str) -> str:
    """A reminder when an exact null is too small for p < 0.05 to be possible at all."""
    if null.startswith("exact, "):
        n = int(null.split()[1])
        if 1 / n >= 0.05:
            return f"; no p below {1 / n:.2f} is possible"
    return ""


def _movement_sentence(moved: pd.DataFrame, origins: pd.DataFrame, min_effect: float,
                       reference_kind: str = "reference model") -> str:
    """How far the models sit from their backbone's reference, against seed and measurement noise."""
    per_backbone = moved.groupby("backbone").rms_change.mean()
    seeds = float(np.sqrt(np.nanmean(2 * origins.seed_sd**2)))
    noise = float(np.sqrt(np.nanmean(origins.noise**2))) if origins.noise.notna().any() else np.nan
    noise_text = f", measurement noise {noise:.3f}" if np.isfinite(noise) else ""
    floor = np.nanmax([seeds, noise]) if np.isfinite(noise) else seeds
    moved_text = ", ".join(f"{rms:.3f} ({backbone})" for backbone, rms in per_backbone.items())
    if per_backbone.max() < 2 * floor:
        judged = "within about twice the noise: the finetunes barely changed the measured biases"
    elif per_backbone.max() < min_effect:
        judged = (f"beyond the noise but below the minimum effect {min_effect:g}: the finetunes "
                  "changed the measured biases only slightly")
    else:
        judged = "beyond the noise and the minimum effect"
    subject = ("Finetuning moved the bias vectors from their untuned backbone"
               if reference_kind == "untuned backbone"
               else f"The bias vectors differ from their backbone's {reference_kind} "
                    "(not an untuned backbone)")
    return (f" {subject} by RMS {moved_text}; "
            f"two seeds of one cell differ by RMS {seeds:.3f}{noise_text} (score units): "
            f"{judged}.")


def _shares_sentence(pooled: pd.Series, over: str = "biases") -> str:
    """Pooled variance shares in words, naming the ones this design cannot estimate."""
    names = {"backbone": "backbone (pretraining)", "instruction": "instruction data",
             "interaction": "their interaction", "residual": "seeds/residual"}
    known = [f"{names[k]} {pooled[k]:.0%}" for k in names if not np.isnan(pooled[k])]
    unknown = [names[k] for k in names if np.isnan(pooled[k])]
    if not known:
        return " No variance share can be estimated."
    subject, share = known[0].rsplit(" ", 1)
    text = f" Pooled over {over}, {subject} explains {share} of the variance"
    if known[1:]:
        text += (", " if len(known) > 2 else " and ") + _join(known[1:])
    if unknown:
        text += f" ({_join(unknown)}: not estimable with this design)"
    return text + "."


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _noise_gap(test: BackboneTest | None) -> str:
    """The backbone-vs-instruction test over noise-level shares: its p-value, and no leader named."""
    if test is None or np.isnan(test.gap):
        return ""
    p = min(1.0, 2 * min(test.p_value, test.p_instruction))
    return (f" (pretraining against instruction data: gap {test.gap:+.2f} in mean share, "
            f"two-sided permutation p = {p:.3f})")


def _gap_sentence(test: BackboneTest | None) -> str:
    """The backbone-vs-instruction result in words whose strength follows its p-value."""
    if test is None or np.isnan(test.gap):
        return " Whether pretraining or instruction data explains more cannot be tested here."
    gap = test.gap
    lead, other = ("pretraining", "instruction data") if gap > 0 else ("instruction data", "pretraining")
    p = test.p_value if gap > 0 else test.p_instruction
    numbers = f"gap {gap:+.2f} in mean share, one-sided permutation p = {p:.3f}, {test.null}"
    if abs(gap) < 0.005:
        text = (f" Pretraining and instruction data explain about the same share of the variance "
                f"({numbers}).")
    elif p < 0.05:
        text = f" {lead.capitalize()} explains more of the variance than {other}: {strength(p)} ({numbers})."
    else:
        text = (f" {lead.capitalize()} explains more of the variance than {other} on average; the "
                f"permutation test gives {strength(p)} that this exceeds chance ({numbers}).")
    n = test.n_relabellings
    if test.exact and 1 / n >= 0.05:
        text += f" With {n} relabellings no p below {1 / n:.2f} is possible."
    return text
