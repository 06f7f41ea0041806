"""The transfer experiment's analysis: how far `biased` finetuning moves each bias, and whether
the untrained (held-out) biases move with the trained ones.

Per backbone and bias, the change is the `biased` arm's mean pair score minus the reference's:
the `unbiased` control arm (same prompts, same steps, answers that ignore the manipulation) or
the untuned backbone. Every model is evaluated on the same pairs, so the comparison is paired.
Confidence intervals come from a two-level bootstrap: the pairs of each bias are resampled (the
same draw for every model) and the seeds of each arm are resampled, so both sources of noise
are in the interval. The transfer ratio is mean held-out change / mean train change, with its
interval from the same draws.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crosstune.experiment.run_folder import RunFolder
from crosstune.experiment.spec import ExperimentSpec
from crosstune.lab.bias_data import disjointness, training_pairs
from crosstune.store import (
    TRANSFER,
    TRANSFER_COLUMNS,
    TRANSFER_RATIO,
    TRANSFER_RATIO_COLUMNS,
    read_pair_scores,
    write_csv,
)
from crosstune.suite.registry import select_biases

RESAMPLES = 2000


@dataclass(frozen=True)
class ArmScores:
    """Pair scores of one backbone: bias -> (models x pairs) per arm, pairs in the same order."""

    biased: dict[str, np.ndarray]
    control: dict[str, np.ndarray]
    untuned: dict[str, np.ndarray]


def _stack(series: list[pd.Series]) -> dict[str, np.ndarray]:
    if not series:
        return {}
    table = pd.concat(series, axis=1).sort_index()
    return {bias: group.to_numpy(dtype=float).T for bias, group in table.groupby(level="bias")}


def arm_scores(run: RunFolder, backbone: str) -> ArmScores | None:
    """The finished evaluations of one backbone's arms; None until both arms and the base have one."""
    transfer = run.valid_spec().transfer
    assert transfer is not None
    arms = transfer.arms()
    found: dict[str, list[pd.Series]] = {"biased": [], "unbiased": []}
    for model in run.models():
        for direction, source in arms.items():
            if (model.job is not None and model.backbone == backbone and model.job.spec.dataset == source
                    and model.evaluated):
                found[direction].append(read_pair_scores(model.eval_folder))
    base = run.untuned(backbone)
    if not found["biased"] or not found["unbiased"] or not base.evaluated:
        return None
    return ArmScores(_stack(found["biased"]), _stack(found["unbiased"]),
                     _stack([read_pair_scores(base.eval_folder)]))


def _seed_weights(n_models: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples x models) weights of a with-replacement draw of models, each row summing to 1."""
    draws = rng.integers(0, n_models, size=(resamples, n_models))
    return np.stack([np.bincount(row, minlength=n_models) for row in draws]) / n_models


def _resampled_means(scores: np.ndarray, weights: np.ndarray, pair_draws: np.ndarray) -> np.ndarray:
    """Mean score per resample: seeds weighted by `weights`, pairs taken at `pair_draws`."""
    per_pair = weights @ np.nan_to_num(scores)  # (resamples x pairs)
    counted = weights @ ~np.isnan(scores)  # share of seeds that scored the pair
    with np.errstate(invalid="ignore", divide="ignore"):
        per_pair = per_pair / counted
    with warnings.catch_warnings():  # a draw of only unscored pairs is NaN, dropped by the percentiles
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.take_along_axis(per_pair, pair_draws, axis=1), axis=1)


def bias_changes(arms: ArmScores, resamples: int = RESAMPLES, seed: int = 0
                 ) -> dict[str, dict[str, tuple[float, np.ndarray, int, int]]]:
    """versus -> bias -> (change, bootstrap draws of it, biased seeds, pairs)."""
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, tuple[float, np.ndarray, int, int]]] = {"control": {}, "untuned": {}}
    for bias in sorted(arms.biased):
        if bias not in arms.control or bias not in arms.untuned:
            continue
        biased, control, untuned = arms.biased[bias], arms.control[bias], arms.untuned[bias]
        n_pairs = biased.shape[1]
        pair_draws = rng.integers(0, n_pairs, size=(resamples, n_pairs))
        whole = np.arange(n_pairs)[None, :]
        b_w = _seed_weights(len(biased), resamples, rng)
        c_w = _seed_weights(len(control), resamples, rng)
        biased_mean = _resampled_means(biased, np.full((1, len(biased)), 1 / len(biased)), whole)[0]
        biased_draws = _resampled_means(biased, b_w, pair_draws)
        references = {"control": (control, c_w), "untuned": (untuned, np.ones((resamples, 1)))}
        for versus, (reference, weights) in references.items():
            point = biased_mean - _resampled_means(reference, np.full((1, len(reference)),
                                                                      1 / len(reference)), whole)[0]
            draws = biased_draws - _resampled_means(reference, weights, pair_draws)
            out[versus][bias] = (float(point), draws, len(biased), n_pairs)
    return out


def transfer_tables(changes: dict[str, dict[str, tuple[float, np.ndarray, int, int]]],
                    train: list[str], heldout: list[str], backbone: str
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-bias changes with 95% CIs, transfer ratios with 95% CIs) of one backbone."""
    rows, ratios = [], []
    for versus, by_bias in changes.items():
        for bias, (point, draws, seeds, pairs) in by_bias.items():
            role = "train" if bias in train else "heldout" if bias in heldout else None
            if role is None:
                continue
            low, high = np.nanpercentile(draws, [2.5, 97.5])
            rows.append({"backbone": backbone, "bias": bias, "role": role, "versus": versus,
                         "change": point, "ci_low": low, "ci_high": high, "seeds": seeds, "pairs": pairs})
        trained = [b for b in train if b in by_bias]
        held = [b for b in heldout if b in by_bias]
        if not trained or not held:
            continue
        train_point = np.mean([by_bias[b][0] for b in trained])
        held_point = np.mean([by_bias[b][0] for b in held])
        with np.errstate(invalid="ignore", divide="ignore"):
            draws = (np.mean([by_bias[b][1] for b in held], axis=0)
                     / np.mean([by_bias[b][1] for b in trained], axis=0))
        low, high = np.nanpercentile(draws[np.isfinite(draws)], [2.5, 97.5])
        ratios.append({"backbone": backbone, "versus": versus, "ratio": held_point / train_point,
                       "ci_low": low, "ci_high": high, "train_change": train_point,
                       "heldout_change": held_point})
    return pd.DataFrame(rows, columns=TRANSFER_COLUMNS), pd.DataFrame(ratios, columns=TRANSFER_RATIO_COLUMNS)


def roles(spec: ExperimentSpec, evaluated: list[str]) -> tuple[list[str], list[str]]:
    """(train biases, held-out biases): held-out defaults to every evaluated bias not trained."""
    assert spec.transfer is not None
    train = [b.name for b in select_biases(spec.transfer.train_biases)]
    named = spec.transfer.heldout_biases
    heldout = [b.name for b in select_biases(named)] if named else [b for b in evaluated if b not in train]
    return train, heldout


def write_transfer(run: RunFolder, evaluated: list[str]) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Write RUN/transfer.csv and RUN/transfer_ratio.csv when the spec has a [transfer] section."""
    spec = run.valid_spec()
    if spec.transfer is None:
        return None
    train, heldout = roles(spec, evaluated)
    changes, ratios = [], []
    for backbone in spec.backbones:
        arms = arm_scores(run, backbone)
        if arms is not None:
            change, ratio = transfer_tables(bias_changes(arms), train, heldout, backbone)
            changes.append(change)
            ratios.append(ratio)
    if not changes:
        return None
    tables = (pd.concat(changes, ignore_index=True), pd.concat(ratios, ignore_index=True))
    write_csv(run.path / TRANSFER, tables[0])
    write_csv(run.path / TRANSFER_RATIO, tables[1])
    return tables


def training_disjointness(spec: ExperimentSpec, evaluation_pairs: list) -> dict[str, int]:
    """How the transfer arms' training pairs overlap the evaluation's (scenarios, prompt texts)."""
    assert spec.transfer is not None
    return disjointness(training_pairs(spec.transfer.source("biased")), evaluation_pairs)
