"""Per-bias origin calls that say what the design can and cannot see.

For every bias this module tests each factor (backbone, instruction data, their interaction)
with an F test against the seed residual, Benjamini-Hochberg-adjusted across the bias family
(registered biases form one family; rows that match no registered bias, such as a task accuracy,
form their own, so they never move the real biases' calls). Beside each test it puts the effect
in score units with a 95% t interval from the same residual, and the minimum detectable effect at
80% power (analysis/power.py). Only seeded replicates enter any test: released or reference
models (no seed label) stay out.

The call, in this order (docs/analysis.md has the table a reader uses):
- `not measured`: the analysed models mostly answer by letter position on this bias;
- `pretraining` / `instruction data` / `both`: the main effect(s) with q < alpha and an effect of
  at least `min_effect`; `interaction`: only the interaction is;
- `seed noise`: no factor is, and seeds of one cell differ beyond their per-pair measurement
  noise (a blocked F test on per-pair scores, BH-adjusted) by at least `min_effect` (RMS). Needs
  per-pair scores and two seeds in a cell: on a plain table it is never called;
- `below minimum effect` (reason: threshold): a factor is significant but smaller than
  `min_effect`;
- `no signal` (reason: threshold): every testable factor's 95% interval lies inside
  +-`min_effect` (an equivalence statement);
- `inconclusive` (reason: noise): neither; `why` names the factors and their detectable effects.
"""

from __future__ import annotations

import re
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
from crosstune.analysis.power import Design, detectable_effect
from crosstune.analysis.seeds import seeded
from crosstune.analysis.variance import SHARES, anova_shares, anova_terms
from crosstune.store import read_pair_scores

ORIGINS = ("pretraining", "instruction data", "both", "interaction", "seed noise",
           "below minimum effect", "no signal", "inconclusive", "not measured")
SIGNALS = ("pretraining", "instruction data", "both", "interaction")
"""Calls that name a factor: the biases the pooled verdict counts."""
UNCALLED = {"below minimum effect": "threshold", "no signal": "threshold", "inconclusive": "noise",
            "not measured": "content-blind"}
"""Calls that name no origin, and which reason keeps the bias uncalled."""
FACTORS = ("backbone", "instruction", "interaction")
CONTENT_FLOOR = 0.5
"""A bias is measured when at least half the analysed models read its content."""
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
    """Bootstrap draws for the variance shares' CIs (0: no CIs, e.g. in simulations)."""
    seed: int = 0
    content_floor: float = CONTENT_FLOOR
    """A bias is `not measured` when fewer than this share of the analysed models read its content."""


def normalised(name: str) -> str:
    """A bias name compared case- and spacing-insensitively ('Anchoring', 'anchoring ', 'anchoring')."""
    return re.sub(r"[\s_\-]+", " ", str(name)).strip().lower()


def registered_names() -> set[str]:
    """Every registered bias's name and title, normalised."""
    from crosstune.suite.registry import all_biases

    return {normalised(b.name) for b in all_biases()} | {normalised(b.title) for b in all_biases()}


def unregistered(biases: list[str]) -> list[str]:
    """The rows whose names match no registered bias (the user's own biases, or not biases)."""
    known = registered_names()
    return [b for b in biases if normalised(b) not in known]


def _families(biases: list[str]) -> np.ndarray:
    """Per bias, its BH family: 'registered' or 'other' (all one family when none is registered)."""
    other = set(unregistered(biases))
    if len(other) == len(biases):
        return np.array(["other"] * len(biases))
    return np.array(["other" if b in other else "registered" for b in biases])


def _cell_draws(cells: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples x models) row indices: every model replaced by a random model of its own cell."""
    out = np.empty((resamples, len(cells)), dtype=int)
    for cell in np.unique(cells):
        members = np.flatnonzero(cells == cell)
        out[:, members] = rng.choice(members, size=(resamples, len(members)))
    return out


def _resampled_scores(x: np.ndarray, biases: list[str], pairs: PairScores | None, cells: np.ndarray,
                      resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples x models x biases) scores under the two-level bootstrap (pairs, seeds in cells)."""
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


def _main_effect(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per bias: highest minus lowest level mean (signed so that a 2-level factor keeps its
    direction: second level minus first), and 1/n_hi + 1/n_lo of the levels compared."""
    levels = np.unique(labels)
    if len(levels) < 2:
        return np.full(x.shape[1], np.nan), np.full(x.shape[1], np.nan)
    means = np.stack([x[labels == g].mean(axis=0) for g in levels])  # levels x biases
    counts = np.array([(labels == g).sum() for g in levels], float)
    if len(levels) == 2:
        return means[1] - means[0], np.full(x.shape[1], 1 / counts[0] + 1 / counts[1])
    hi, lo = means.argmax(axis=0), means.argmin(axis=0)
    return means.max(axis=0) - means.min(axis=0), 1 / counts[hi] + 1 / counts[lo]


def _interaction_effect(x: np.ndarray, backbone: np.ndarray, instruction: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Per bias, the largest |difference of differences| of cell means over every 2 x 2
    sub-table, and the sum of 1/n over its four cells; NaN where a cell is empty."""
    bs, ins = np.unique(backbone), np.unique(instruction)
    nan = np.full(x.shape[1], np.nan)
    if len(bs) < 2 or len(ins) < 2:
        return nan, nan
    cell, count = {}, {}
    for b in bs:
        for i in ins:
            members = (backbone == b) & (instruction == i)
            if not members.any():
                return nan, nan
            cell[b, i], count[b, i] = x[members].mean(axis=0), members.sum()
    best, factor = np.zeros(x.shape[1]), np.zeros(x.shape[1])
    for b1, b2 in combinations(bs, 2):
        for i1, i2 in combinations(ins, 2):
            dd = np.abs((cell[b1, i1] - cell[b1, i2]) - (cell[b2, i1] - cell[b2, i2]))
            c = sum(1 / count[k] for k in ((b1, i1), (b1, i2), (b2, i1), (b2, i2)))
            factor = np.where(dd > best, c, factor)
            best = np.maximum(best, dd)
    return best, factor


def _f_tests(ss: dict[str, np.ndarray], df: dict[str, int]) -> dict[str, np.ndarray]:
    """Per factor and bias, the F test's p against the residual (seed) mean square."""
    n = len(ss["residual"])
    out = {}
    for factor in FACTORS:
        if df[factor] == 0 or df["residual"] == 0 or np.isnan(ss[factor]).all():
            out[factor] = np.full(n, np.nan)
            continue
        ms_res = ss["residual"] / df["residual"]
        with np.errstate(divide="ignore", invalid="ignore"):
            f = (ss[factor] / df[factor]) / ms_res
        p = stats.f.sf(f, df[factor], df["residual"])
        # no residual variation at all: any difference is exact, none is nothing
        p = np.where(ms_res <= 1e-30, np.where(ss[factor] > 1e-30, 0.0, 1.0), p)
        out[factor] = p
    return out


def _bh(p: np.ndarray, families: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values within each family (p: biases x tests, NaN = not tested)."""
    q = np.full_like(p, np.nan)
    for family in np.unique(families):
        rows = families == family
        block = p[rows]
        ok = ~np.isnan(block)
        if ok.any():
            adjusted = np.full_like(block, np.nan)
            adjusted[ok] = stats.false_discovery_control(block[ok], method="bh")
            q[rows] = adjusted
    return q


def _complete_pairs(scores: np.ndarray) -> np.ndarray:
    """Per-pair scores of some models with every pair one of them lacks dropped."""
    return scores[:, ~np.isnan(scores).any(axis=0)]


def _seed_test(biases: list[str], pairs: PairScores | None, models: list[str],
               cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per bias: p of "seeds of one cell differ beyond their measurement noise", and the RMS
    difference between two seeds' true scores (measurement noise removed).

    Within a cell the per-pair scores are a seeds x pairs table with no replication: the pairs
    are blocks (what a pair shares cancels), F = MS(seed) / MS(seed x pair), pooled over cells
    with at least two seeds. A model's own score never enters the noise it is compared with.
    """
    p = np.full(len(biases), np.nan)
    size = np.full(len(biases), np.nan)
    if pairs is None:
        return p, size
    rows = {m: k for k, m in enumerate(pairs.models)}
    for j, bias in enumerate(biases):
        if bias not in pairs.by_bias:
            continue
        ss_seed = ss_error = df_seed = df_error = 0.0
        offsets = []
        for cell in np.unique(cells):
            members = [rows[m] for m, c in zip(models, cells, strict=True) if c == cell]
            if len(members) < 2:
                continue
            y = _complete_pairs(pairs.by_bias[bias][members])
            r, n = y.shape
            if n < 2:
                continue
            seed_means = y.mean(axis=1, keepdims=True)
            residual = y - seed_means - y.mean(axis=0, keepdims=True) + y.mean()
            ss_seed += n * float(((seed_means - y.mean()) ** 2).sum())
            ss_error += float((residual**2).sum())
            df_seed += r - 1
            df_error += (r - 1) * (n - 1)
            offsets.append((r - 1, n))
        if df_seed == 0 or df_error == 0:
            continue
        ms_seed, ms_error = ss_seed / df_seed, ss_error / df_error
        if ms_error <= 1e-30:
            p[j] = 0.0 if ms_seed > 1e-30 else 1.0
        else:
            p[j] = float(stats.f.sf(ms_seed / ms_error, df_seed, df_error))
        n_pairs = sum(d * n for d, n in offsets) / sum(d for d, _ in offsets)
        size[j] = float(np.sqrt(2 * max(0.0, ms_seed - ms_error) / n_pairs))
    return p, size


def _measurement_noise(biases: list[str], pairs: PairScores | None) -> np.ndarray:
    """Per bias, the standard error of the difference between two models' scores from their pairs.

    Every model answers the same pairs, so what the pairs share cancels in a difference: per
    model, the deviation from the mean of the *other* models, RMS over models, times sqrt(2)."""
    out = np.full(len(biases), np.nan)
    if pairs is None:
        return out
    for j, bias in enumerate(biases):
        if pairs.n_pairs(bias) >= 2 and len(pairs.models) >= 2:
            scores = pairs.by_bias[bias]
            k = len(scores)
            with _quiet():
                total = np.nansum(scores, axis=0, keepdims=True)
                others = (total - np.nan_to_num(scores)) / (k - 1)
                # the deviation from the others' mean has variance s2 (1 + 1/(k-1)) per pair
                deviation = (scores - others) * np.sqrt((k - 1) / k)
                n = (~np.isnan(scores)).sum(axis=1)
                se = np.nanstd(deviation, axis=1, ddof=1) / np.sqrt(n)
                out[j] = float(np.sqrt(2 * np.nanmean(se**2)))
    return out


@dataclass(frozen=True)
class DesignFacts:
    """What the analysed grid allows, for the table's notes and the verdict's sentences."""

    design: Design
    seeds: int
    """Models that count as seeds (the rest are references, in no test)."""
    left_out: tuple[str, ...]
    missing_cells: tuple[str, ...]
    one_seed: bool
    """Some cell has a single seed: interaction and seed noise cannot be told apart."""
    has_pairs: bool


def design_facts(m: BiasMatrix, pairs: PairScores | None = None) -> DesignFacts:
    """The grid the origin tests see: seeded models only, its cells, what it cannot estimate."""
    keep = seeded(m)
    factors = m.factors[keep]
    backbone, instruction = factors["backbone"].to_numpy(), factors["instruction"].to_numpy()
    bs, ins = np.unique(backbone), np.unique(instruction)
    counts = factors.groupby(["backbone", "instruction"]).size()
    missing = tuple(f"{b} x {i}" for b in bs for i in ins if (b, i) not in counts.index)
    _, df = anova_terms(np.zeros((len(factors), 1)), backbone, instruction)
    if missing:
        df = {**df, "interaction": 0}

    def harmonic(values) -> float:
        values = np.asarray(list(values), float)
        return float(len(values) / (1 / values).sum()) if len(values) and (values > 0).all() else 0.0

    design = Design(len(bs), len(ins),
                    harmonic(factors.groupby("backbone").size()),
                    harmonic(factors.groupby("instruction").size()),
                    0.0 if missing else harmonic(counts), df)
    return DesignFacts(design, int(keep.sum()), tuple(m.factors.index[~keep]), missing,
                       bool(len(counts) and counts.min() < 2), pairs is not None)


def origin_table(m: BiasMatrix, pairs: PairScores | None = None,
                 settings: OriginSettings = OriginSettings(),
                 content: pd.Series | None = None, families: np.ndarray | None = None
                 ) -> pd.DataFrame:
    """One row per bias: the call and why, per factor its effect with a 95% interval, p, q and
    detectable effect, spread and noise, and the variance shares with bootstrap CIs.

    `content`: per bias, the share of the analysed models that read the content (not only the
    letter position); a bias below `settings.content_floor` is `not measured`. `families`: per bias,
    its Benjamini-Hochberg family (default: registered biases and other rows; a simulation passes
    one family per simulated table to test many tables in one call)."""
    facts = design_facts(m, pairs)
    keep = seeded(m)
    scores = m.scores[keep]
    models = list(scores.index)
    biases = list(scores.columns)
    x = scores.to_numpy(dtype=float)
    backbone = m.factors.loc[keep, "backbone"].to_numpy()
    instruction = m.factors.loc[keep, "instruction"].to_numpy()
    cells = np.array([f"{b}\0{i}" for b, i in zip(backbone, instruction, strict=True)])
    if pairs is not None:
        pairs = pairs.aligned(list(m.scores.index))
    ss, df = anova_terms(x, backbone, instruction)
    if facts.missing_cells:
        df = {**df, "interaction": 0}
        ss = {**ss, "interaction": np.full(len(biases), np.nan)}
    df_res = df["residual"]
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.sqrt(ss["residual"] / df_res) if df_res else np.full(len(biases), np.nan)
    p = _f_tests(ss, df)
    families = _families(biases) if families is None else np.asarray(families)
    q_all = _bh(np.stack([p[f] for f in FACTORS], axis=1), families)
    q = {f: q_all[:, k] for k, f in enumerate(FACTORS)}
    tests_in_family = {fam: int((~np.isnan(np.stack([p[f] for f in FACTORS], axis=1)[families == fam])).sum())
                       for fam in np.unique(families)}
    level = np.array([settings.alpha / max(tests_in_family[f], 1) for f in families])
    t = stats.t.ppf(0.975, df_res) if df_res else np.nan
    effects = {"backbone": _main_effect(x, backbone), "instruction": _main_effect(x, instruction),
               "interaction": _interaction_effect(x, backbone, instruction)}
    noise = _measurement_noise(biases, pairs)
    p_seed, seed_size = _seed_test(biases, pairs, models, cells) if not facts.one_seed else (
        np.full(len(biases), np.nan), np.full(len(biases), np.nan))
    q_seed = _bh(p_seed[:, None], families)[:, 0]

    table = pd.DataFrame({"bias": biases, "family": families})
    table["spread"] = scores.std(axis=0, ddof=1).to_numpy()
    table["noise"] = noise
    table["n_pairs"] = [pairs.n_pairs(b) if pairs is not None else 0 for b in biases]
    table["seed_sd"] = sigma
    table["df_residual"] = df_res
    table["seed_difference"] = seed_size
    table["p_seed"], table["q_seed"] = p_seed, q_seed
    if content is not None:
        table["content_share"] = content.reindex(biases).to_numpy(dtype=float)
    for factor in FACTORS:
        effect, c = effects[factor]
        testable = df[factor] > 0 and df_res > 0
        half = t * sigma * np.sqrt(c) if testable else np.full(len(biases), np.nan)
        table[f"effect_{factor}"] = effect if testable or factor != "interaction" else np.nan
        table[f"effect_{factor}_low"], table[f"effect_{factor}_high"] = effect - half, effect + half
        table[f"p_{factor}"], table[f"q_{factor}"] = p[factor], q[factor]
        mde = np.array([float(detectable_effect(facts.design, factor, s, lv)) if testable else np.nan
                        for s, lv in zip(sigma, level, strict=True)])
        table[f"mde_{factor}"] = mde
    _add_shares(table, x, biases, pairs, backbone, instruction, cells, settings, facts)
    calls = [_call(row, settings) for row in table.itertuples(index=False)]
    table.insert(1, "origin", [c[0] for c in calls])
    table.insert(2, "reason", [c[1] for c in calls])
    table.insert(3, "why", [c[2] for c in calls])
    return table


def _add_shares(table: pd.DataFrame, x: np.ndarray, biases: list[str], pairs: PairScores | None,
                backbone: np.ndarray, instruction: np.ndarray, cells: np.ndarray,
                settings: OriginSettings, facts: DesignFacts) -> None:
    """Variance shares, with two-level bootstrap CIs where seeds can be resampled."""
    shares = anova_shares(x, backbone, instruction)
    draws = None
    if settings.resamples > 0 and not facts.one_seed:
        rng = np.random.default_rng(settings.seed)
        resampled = _resampled_scores(x, biases, pairs, cells, settings.resamples, rng)
        # one design for every draw: the draws side by side as columns, one ANOVA
        side_by_side = resampled.transpose(1, 0, 2).reshape(len(x), -1)
        draws = anova_shares(side_by_side, backbone, instruction).to_numpy().reshape(
            settings.resamples, len(biases), len(SHARES))
    with _quiet():
        for k, name in enumerate(SHARES):
            table[f"share_{name}"] = shares[name].to_numpy()
            if draws is None:
                table[f"share_{name}_low"] = table[f"share_{name}_high"] = np.nan
            else:
                low, high = np.nanpercentile(draws[:, :, k], [2.5, 97.5], axis=0)
                table[f"share_{name}_low"], table[f"share_{name}_high"] = low, high


def _call(row, settings: OriginSettings) -> tuple[str, str, str]:
    """(origin, reason, why) for one row of the origin table."""
    g = row._asdict()
    if "content_share" in g and g["content_share"] < settings.content_floor:
        return ("not measured", "content-blind",
                f"only {g['content_share']:.0%} of the models read this bias's content (the rest "
                "answer by letter position, which scores 0 by construction)")
    significant = {f: bool(g[f"q_{f}"] < settings.alpha) for f in FACTORS}
    called = [f for f in FACTORS if significant[f] and abs(g[f"effect_{f}"]) >= settings.min_effect]
    if called:
        main = [f for f in called if f != "interaction"]
        origin = ("both" if len(main) == 2 else "pretraining" if main == ["backbone"]
                  else "instruction data" if main else "interaction")
        return origin, "signal", " + ".join(called)
    if g["q_seed"] < settings.alpha and g["seed_difference"] >= settings.min_effect:
        return ("seed noise", "signal",
                f"seeds of one cell differ by {g['seed_difference']:.3f} RMS beyond their pair noise "
                f"(q = {g['q_seed']:.2g})")
    small = [f for f in FACTORS if significant[f]]
    if small:
        return ("below minimum effect", "threshold",
                "; ".join(f"{f} {g[f'effect_{f}']:+.3f} is real (q = {g[f'q_{f}']:.2g}) but smaller "
                          f"than {settings.min_effect:g}" for f in small))
    tested = [f for f in FACTORS if not np.isnan(g[f"p_{f}"])]
    if not tested:
        return ("inconclusive", "noise", "no factor can be tested (no residual degrees of freedom)")
    bound = settings.min_effect
    open_ = [f for f in tested if not -bound < g[f"effect_{f}_low"] <= g[f"effect_{f}_high"] < bound]
    if not open_:
        return ("no signal", "threshold",
                f"every factor's 95% interval lies inside +-{settings.min_effect:g}")
    return ("inconclusive", "noise",
            "; ".join(f"{f}: interval [{g[f'effect_{f}_low']:+.3f}, {g[f'effect_{f}_high']:+.3f}] "
                      f"reaches beyond +-{settings.min_effect:g}, detectable effect "
                      f"{g[f'mde_{f}']:.3f}" for f in open_))


def _listed(members: list[str], most: int = 6) -> str:
    return f" ({', '.join(members)})" if len(members) <= most else ""


def power_sentence(table: pd.DataFrame, facts: DesignFacts, settings: OriginSettings) -> str:
    """What this design can detect, in effect units, and what it cannot separate."""
    design = facts.design
    seeds = design.seeds_per_cell
    per_cell = (f"{seeds:g} seed{'s' if seeds != 1 else ''} per cell" if seeds
                else f"{facts.seeds} seeded models in an incomplete grid")
    sd = float(np.nanmedian(table.seed_sd)) if table.seed_sd.notna().any() else np.nan
    names = {"backbone": "backbone effects", "instruction": "instruction-data effects",
             "interaction": "interactions"}
    found = [f"{names[f]} of {np.nanmedian(table[f'mde_{f}']):.3f}" for f in FACTORS
             if table[f"mde_{f}"].notna().any()]
    if not np.isfinite(sd) or not found:
        text = (f" With {per_cell} and no residual degrees of freedom, this design has no test of "
                "any factor.")
    else:
        text = (f" With {per_cell} and seed SD {sd:.3f} (median over biases), this design detects "
                f"{_join(found)} or more (80% power, median over biases; per bias in origins.csv)")
        unseen = [names[f] for f in FACTORS if table[f"mde_{f}"].notna().any()
                  and np.nanmedian(table[f"mde_{f}"]) > settings.min_effect]
        text += (f"; {_join(unseen)} of the minimum effect {settings.min_effect:g} can go unseen."
                 if unseen else f"; effects of the minimum effect {settings.min_effect:g} are seen.")
    if facts.one_seed:
        text += (" With a single seed in some cell, the design cannot separate interaction from seed "
                 "noise: there is no interaction test and no seed-noise call.")
    if facts.missing_cells:
        text += f" No seeded model in cell(s) {', '.join(facts.missing_cells)}: the interaction is dropped."
    if not facts.has_pairs:
        text += " Seed noise cannot be called on a plain score table (it needs per-pair scores)."
    if facts.left_out:
        text += (f" {len(facts.left_out)} model(s) without a seed label are references and enter no "
                 f"test{_listed(list(facts.left_out), 4)}.")
    return text


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def origin_sentence(table: pd.DataFrame, settings: OriginSettings, facts: DesignFacts | None = None
                    ) -> str:
    """How many biases carry a signal and which; why the others are uncalled (the threshold or the
    noise); what the design can detect."""
    named, kept = [], {"threshold": [], "noise": [], "content-blind": []}
    for origin in ORIGINS:
        members = list(table.bias[table.origin == origin])
        if not members:
            continue
        if origin in SIGNALS or origin == "seed noise":
            named.append(f"{origin} {len(members)}{_listed(members)}")
        else:
            kept[UNCALLED[origin]].append(f"{origin} {len(members)}{_listed(members, 4)}")
    n_signal = int(table.origin.isin(SIGNALS).sum())
    pairs = table.n_pairs.max()
    noise = (f"seeds, and pair noise from {pairs} pairs per bias" if pairs
             else "seeds only (no per-pair scores: measurement noise unseen)")
    text = (f" Origin per bias (minimum effect {settings.min_effect:g}, Benjamini-Hochberg "
            f"q < {settings.alpha:g} across biases, noise: {noise}): {n_signal} of {len(table)} "
            f"biases carry a signal" + (f"; {'; '.join(named)}" if named else "") + ".")
    if kept["threshold"]:
        text += (f" Kept uncalled by the minimum effect (the data show any effect is smaller than "
                 f"{settings.min_effect:g}): {'; '.join(kept['threshold'])}.")
    if kept["noise"]:
        text += (f" Kept uncalled by noise (the design cannot tell an effect of {settings.min_effect:g} "
                 f"from none): {'; '.join(kept['noise'])}.")
    if kept["content-blind"]:
        text += (f" Not measured, the models answer by letter position: {'; '.join(kept['content-blind'])}.")
    if facts is not None:
        text += power_sentence(table, facts, settings)
    return text
