"""Per-bias origin calls: which factor moves each bias beyond noise, with the uncertainty of it.

Relative variance shares alone cannot say where a bias comes from: on a bias where every model
sits within +-0.001, a "backbone share" of 80% is a share of nothing. So for every bias this
module puts the between-model differences in score units next to two kinds of noise, tests each
factor, and calls an origin only when a difference is both real and large enough to matter:

- variance shares (type-II ANOVA) with 95% bootstrap CIs: each draw resamples the pairs (one draw
  shared by every model, since all see the same pairs) and the seeds within each backbone x
  instruction cell;
- the between-model spread (SD of the models' scores) and the measurement noise (the standard
  error of a difference between two models' scores over their shared pairs; unknown for a plain
  score table, where seeds are the only noise visible);
- per factor: the effect in score units (largest minus smallest level mean; for the interaction
  the largest difference of differences), its bootstrap CI, and an F test against the seed
  residual, Benjamini-Hochberg-adjusted across every bias and factor tested;
- the call: a factor carries a signal when its q < alpha, its effect is at least `min_effect` and
  (for main effects) its CI excludes 0. Backbone alone: `pretraining`; instruction alone:
  `instruction data`; both, or a signalled interaction: `both`. Otherwise `seed noise` when two
  models of one cell differ by `min_effect` or more (RMS) and by more than their measurement
  noise explains (chi-square test, alpha), else `no signal`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from crosstune.analysis.matrix import BiasMatrix
from crosstune.analysis.variance import SHARES, anova_shares, anova_terms
from crosstune.store import read_pair_scores

ORIGINS = ("pretraining", "instruction data", "both", "seed noise", "no signal")
SIGNALS = ("pretraining", "instruction data", "both")
"""Calls that name a factor: the biases the pooled verdict counts."""
FACTORS = ("backbone", "instruction", "interaction")
DEFAULT_MIN_EFFECT = 0.088
"""The expected ratio's neutral band: a difference smaller than what counts as a bias at all."""


@dataclass(frozen=True)
class PairScores:
    """Per-pair scores: bias -> (models x pairs), rows in `models` order, the same pairs for every
    model (NaN where a pair was excluded)."""

    models: tuple[str, ...]
    by_bias: dict[str, np.ndarray]

    def aligned(self, models: list[str]) -> PairScores:
        """Rows reordered to `models` (the matrix's order)."""
        rows = [self.models.index(m) for m in models]
        return PairScores(tuple(models), {b: s[rows] for b, s in self.by_bias.items()})

    def n_pairs(self, bias: str) -> int:
        return self.by_bias[bias].shape[1] if bias in self.by_bias else 0


def read_pair_table(folders: dict[str, Path]) -> PairScores:
    """Every model's per-pair scores from its evaluation folder (model name -> folder), matched
    on (bias, pair id); a pair one model lacks is NaN for it."""
    table = pd.concat({model: read_pair_scores(folder) for model, folder in folders.items()}, axis=1)
    table = table.sort_index()
    by_bias = {str(bias): group.to_numpy(dtype=float).T for bias, group in table.groupby(level=0)}
    return PairScores(tuple(folders), by_bias)


@dataclass(frozen=True)
class OriginSettings:
    min_effect: float = DEFAULT_MIN_EFFECT
    alpha: float = 0.05
    resamples: int = 1000
    seed: int = 0


def _cell_draws(cells: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples x models) row indices: every model replaced by a random model of its own cell."""
    out = np.empty((resamples, len(cells)), dtype=int)
    for cell in np.unique(cells):
        members = np.flatnonzero(cells == cell)
        out[:, members] = rng.choice(members, size=(resamples, len(members)))
    return out


def _resampled_scores(x: np.ndarray, biases: list[str], pairs: PairScores | None, cells: np.ndarray,
                      resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples x models x biases) scores under the two-level bootstrap."""
    rows = _cell_draws(cells, resamples, rng)
    out = np.empty((resamples, *x.shape))
    for j, bias in enumerate(biases):
        if pairs is not None and bias in pairs.by_bias:
            per_pair = pairs.by_bias[bias]
            n = per_pair.shape[1]
            draws = rng.integers(0, n, size=(resamples, n))
            with np.errstate(invalid="ignore"), _quiet():
                means = np.nanmean(per_pair[:, draws], axis=2)  # models x resamples
            out[:, :, j] = np.take_along_axis(means.T, rows, axis=1)
        else:
            out[:, :, j] = x[rows, j]
    return out


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence numpy's 'mean of empty slice': a draw of only excluded pairs is NaN, then dropped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _level_contrast(x: np.ndarray, labels: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Per bias: mean of level `hi[j]` minus mean of level `lo[j]` (x: ... x models x biases)."""
    out = np.empty(_out_shape(x))
    for j in range(x.shape[-1]):
        out[..., j] = (x[..., labels == hi[j], j].mean(axis=-1) - x[..., labels == lo[j], j].mean(axis=-1))
    return out


def _out_shape(x: np.ndarray) -> tuple[int, ...]:
    """... x models x biases -> ... x biases."""
    return (*x.shape[:-2], x.shape[-1])


def _extreme_levels(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per bias, the levels with the highest and the lowest mean (chosen once, on the data)."""
    levels = np.unique(labels)
    means = np.stack([x[labels == g].mean(axis=0) for g in levels])  # levels x biases
    return levels[means.argmax(axis=0)], levels[means.argmin(axis=0)]


def _interaction_effect(x: np.ndarray, backbone: np.ndarray, instruction: np.ndarray) -> np.ndarray:
    """Per bias, the largest |difference of differences| of cell means over every 2 x 2 sub-table
    (... x models x biases -> ... x biases); NaN where some cell is empty or a factor has one level."""
    bs, ins = np.unique(backbone), np.unique(instruction)
    if len(bs) < 2 or len(ins) < 2:
        return np.full(_out_shape(x), np.nan)
    cell = {}
    for b in bs:
        for i in ins:
            members = (backbone == b) & (instruction == i)
            if not members.any():
                return np.full(_out_shape(x), np.nan)
            cell[b, i] = x[..., members, :].mean(axis=-2)
    best = np.zeros(_out_shape(x))
    for b1, b2 in combinations(bs, 2):
        for i1, i2 in combinations(ins, 2):
            dd = np.abs((cell[b1, i1] - cell[b1, i2]) - (cell[b2, i1] - cell[b2, i2]))
            best = np.maximum(best, dd)
    return best


def _effects(x: np.ndarray, backbone: np.ndarray, instruction: np.ndarray,
             levels: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Factor effects in score units (signed main-effect contrasts, unsigned interaction)."""
    out = {}
    for factor, labels in (("backbone", backbone), ("instruction", instruction)):
        if factor in levels:
            out[factor] = _level_contrast(x, labels, *levels[factor])
        else:
            out[factor] = np.full(_out_shape(x), np.nan)
    out["interaction"] = _interaction_effect(x, backbone, instruction)
    return out


def _seed_difference(x: np.ndarray, backbone: np.ndarray, instruction: np.ndarray) -> np.ndarray:
    """Per bias, the RMS difference between two models of one cell: sqrt(2 x residual mean square)."""
    ss, df = anova_terms(x, backbone, instruction)
    if df["residual"] == 0:
        return np.full(x.shape[1], np.nan)
    return np.sqrt(2 * ss["residual"] / df["residual"])


def _measurement_noise(biases: list[str], pairs: PairScores | None) -> np.ndarray:
    """Per bias, the standard error of the difference between two models' scores from their pairs.

    Every model answers the same pairs, so what the pairs share cancels in a difference: the noise
    is a model's per-pair deviation from the other models, RMS over models, times sqrt(2)."""
    out = np.full(len(biases), np.nan)
    if pairs is None:
        return out
    for j, bias in enumerate(biases):
        if pairs.n_pairs(bias) >= 2:
            scores = pairs.by_bias[bias]
            with _quiet():
                deviation = scores - np.nanmean(scores, axis=0, keepdims=True)
                n = (~np.isnan(scores)).sum(axis=1)
                se = np.nanstd(deviation, axis=1, ddof=1) / np.sqrt(n)
                out[j] = float(np.sqrt(2 * np.nanmean(se**2)))
    return out


def _seed_test(x: np.ndarray, backbone: np.ndarray, instruction: np.ndarray,
               noise: np.ndarray) -> np.ndarray:
    """Per bias, p of "seeds differ more than measurement noise explains": under the null the
    residual sum of squares over the variance of one model's score is chi-square(df residual)."""
    ss, df = anova_terms(x, backbone, instruction)
    if df["residual"] == 0:
        return np.full(x.shape[1], np.nan)
    one_model = noise**2 / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        p = stats.chi2.sf(ss["residual"] / one_model, df["residual"])
    return np.where(one_model > 0, p, np.where(ss["residual"] > 0, 0.0, 1.0))


def _f_tests(x: np.ndarray, backbone: np.ndarray, instruction: np.ndarray) -> dict[str, np.ndarray]:
    """Per factor and bias, the F test's p against the residual (seed) mean square."""
    ss, df = anova_terms(x, backbone, instruction)
    out = {}
    for factor in FACTORS:
        if df[factor] == 0 or df["residual"] == 0 or np.isnan(ss[factor]).all():
            out[factor] = np.full(x.shape[1], np.nan)
            continue
        ms_res = ss["residual"] / df["residual"]
        with np.errstate(divide="ignore", invalid="ignore"):
            f = (ss[factor] / df[factor]) / ms_res
        p = stats.f.sf(f, df[factor], df["residual"])
        # no residual variation at all: any difference is exact, none is nothing
        p = np.where(ms_res <= 1e-30, np.where(ss[factor] > 1e-30, 0.0, 1.0), p)
        out[factor] = p
    return out


def _bh(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Benjamini-Hochberg q-values over every (bias, factor) test that could be computed."""
    flat = np.concatenate([p[f] for f in FACTORS])
    q = np.full_like(flat, np.nan)
    ok = ~np.isnan(flat)
    if ok.any():
        q[ok] = stats.false_discovery_control(flat[ok], method="bh")
    n = len(p[FACTORS[0]])
    return {f: q[k * n:(k + 1) * n] for k, f in enumerate(FACTORS)}


def origin_table(m: BiasMatrix, pairs: PairScores | None = None,
                 settings: OriginSettings = OriginSettings()) -> pd.DataFrame:
    """One row per bias: shares with CIs, spread and noise, effect, p and q per factor, the call."""
    biases = list(m.scores.columns)
    x = m.scores.to_numpy(dtype=float)
    backbone = m.factors["backbone"].to_numpy()
    instruction = m.factors["instruction"].to_numpy()
    cells = np.array([f"{b}\0{i}" for b, i in zip(backbone, instruction, strict=True)])
    if pairs is not None:
        pairs = pairs.aligned(list(m.scores.index))
    rng = np.random.default_rng(settings.seed)
    levels = {f: _extreme_levels(x, labels) for f, labels in (("backbone", backbone),
                                                                ("instruction", instruction))
              if len(np.unique(labels)) >= 2}
    point = _effects(x[None], backbone, instruction, levels)
    draws = _resampled_scores(x, biases, pairs, cells, settings.resamples, rng)
    drawn_effects = _effects(draws, backbone, instruction, levels)
    drawn_shares = np.stack([anova_shares(d, backbone, instruction).to_numpy() for d in draws])
    shares = anova_shares(x, backbone, instruction)
    p = _f_tests(x, backbone, instruction)
    q = _bh(p)
    noise = _measurement_noise(biases, pairs)
    seed_difference = _seed_difference(x, backbone, instruction)
    p_seed = _seed_test(x, backbone, instruction, noise)
    table = pd.DataFrame({"bias": biases})
    table["spread"] = m.scores.std(axis=0, ddof=1).to_numpy()
    table["noise"] = noise
    table["n_pairs"] = [pairs.n_pairs(b) if pairs is not None else 0 for b in biases]
    table["seed_difference"] = seed_difference
    table["p_seed"] = p_seed
    signal = {}
    with _quiet():
        for factor in FACTORS:
            effect = point[factor][0]
            low, high = np.nanpercentile(drawn_effects[factor], [2.5, 97.5], axis=0)
            table[f"effect_{factor}"] = effect
            table[f"effect_{factor}_low"], table[f"effect_{factor}_high"] = low, high
            table[f"p_{factor}"], table[f"q_{factor}"] = p[factor], q[factor]
            excludes_zero = (low > 0) | (high < 0) if factor != "interaction" else True
            signal[factor] = ((q[factor] < settings.alpha) & (np.abs(effect) >= settings.min_effect)
                              & excludes_zero)
        for k, name in enumerate(SHARES):
            low, high = np.nanpercentile(drawn_shares[:, :, k], [2.5, 97.5], axis=0)
            table[f"share_{name}"] = shares[name].to_numpy()
            table[f"share_{name}_low"], table[f"share_{name}_high"] = low, high
    # without per-pair scores the measurement noise is unseen: seeds are judged by size alone
    seeds_beyond_noise = np.where(np.isnan(p_seed), True, p_seed < settings.alpha)
    seed_signal = (seed_difference >= settings.min_effect) & seeds_beyond_noise
    table.insert(1, "origin", [_call(signal["backbone"][j], signal["instruction"][j],
                                     signal["interaction"][j], seed_signal[j])
                               for j in range(len(biases))])
    return table


def _call(backbone: bool, instruction: bool, interaction: bool, seeds: bool) -> str:
    if (backbone and instruction) or interaction:
        return "both"
    if backbone:
        return "pretraining"
    if instruction:
        return "instruction data"
    return "seed noise" if seeds else "no signal"


def origin_sentence(table: pd.DataFrame, settings: OriginSettings) -> str:
    """How many biases carry a signal, and which, in words."""
    counts = table.origin.value_counts()
    named = []
    for origin in ORIGINS:
        members = list(table.bias[table.origin == origin])
        if not members:
            continue
        listed = f" ({', '.join(members)})" if origin in SIGNALS and len(members) <= 6 else ""
        named.append(f"{origin} {len(members)}{listed}")
    n_signal = int(sum(counts.get(o, 0) for o in SIGNALS))
    pairs = table.n_pairs.max()
    noise = (f"pair noise from {pairs} pairs per bias and seeds" if pairs
             else "seeds only (no per-pair scores: measurement noise unseen)")
    return (f" Origin per bias (minimum effect {settings.min_effect:g}, Benjamini-Hochberg "
            f"q < {settings.alpha:g} across biases, noise: {noise}): {n_signal} of {len(table)} "
            f"biases carry a signal; {'; '.join(named)}.")
