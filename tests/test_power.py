"""Honest power: on noise-only and planted score tables, the origin calls hold their level, find
planted effects as often as the printed detectable effect says, and say what a design cannot see.

Many simulated tables are analysed in one call: each table's biases form their own
Benjamini-Hochberg family (`families`), which is exactly a separate analysis per table."""

import numpy as np
import pandas as pd
import pytest

from crosstune.analysis.attribute import analyze
from crosstune.analysis.matrix import BiasMatrix
from crosstune.analysis.origins import (
    SIGNALS,
    OriginSettings,
    design_facts,
    origin_sentence,
    origin_table,
    unregistered,
)
from crosstune.analysis.power import detectable_effect, grid_design, power_of, seeds_needed
from crosstune.analysis.simulate import PlantedBias, simulate_pairs

SIMULATED = OriginSettings(resamples=0)
PER_TABLE = 5
"""Biases per simulated table (3 tests each: a BH family of 15)."""


def _grid(seeds: int = 3) -> pd.DataFrame:
    rows = [{"backbone": f"b{b}", "instruction": f"i{i}", "seed": str(s)}
            for b in range(2) for i in range(2) for s in range(seeds)]
    return pd.DataFrame(rows, index=[f"b{r['backbone']}-{r['instruction']}-s{r['seed']}" for r in rows])


def _tables(x: np.ndarray, factors: pd.DataFrame, settings: OriginSettings = SIMULATED) -> pd.DataFrame:
    """The origin table of len(x.T) / PER_TABLE score tables at once (one BH family each)."""
    n = x.shape[1]
    scores = pd.DataFrame(x, index=factors.index, columns=[f"x{j}" for j in range(n)])
    return origin_table(BiasMatrix(scores, factors), settings=settings,
                        families=np.repeat(np.arange(n // PER_TABLE), PER_TABLE))


def _verdict(m: BiasMatrix, pairs=None) -> str:
    """The origin part of the verdict, as analyze prints it."""
    return origin_sentence(origin_table(m, pairs, SIMULATED), SIMULATED, design_facts(m, pairs))


def _any_call(table: pd.DataFrame) -> np.ndarray:
    return table.origin.isin(SIGNALS).to_numpy().reshape(-1, PER_TABLE).any(axis=1)


def test_noise_only_tables_get_a_factor_call_in_at_most_5_percent():
    factors = _grid()
    x = np.random.default_rng(1).normal(0, 0.1, (len(factors), 1000 * PER_TABLE))
    assert _any_call(_tables(x, factors)).mean() <= 0.05
    # without a minimum effect, the tests alone: BH holds the family's level (binomial error 0.007)
    tests_only = _any_call(_tables(x, factors, OriginSettings(resamples=0, min_effect=0.0)))
    assert tests_only.mean() <= 0.05 + 0.01


@pytest.mark.parametrize("factor", ["backbone", "interaction"])
def test_a_planted_effect_at_the_printed_detectable_effect_is_found_about_80_percent_of_the_time(factor):
    factors, sigma, tables = _grid(), 0.1, 200
    design = grid_design(2, 2, 3)
    level = 0.05 / (3 * PER_TABLE)
    effect = float(detectable_effect(design, factor, sigma, level))
    reported = float(power_of(effect, sigma, design.df[factor], design.df["residual"], level,
                              design.variance_factor(factor)))
    assert reported == pytest.approx(0.8, abs=1e-6)
    x = np.random.default_rng(1).normal(0, sigma, (len(factors), tables * PER_TABLE))
    b1, i1 = (factors.backbone == "b1").to_numpy(), (factors.instruction == "i1").to_numpy()
    planted = np.where(b1, effect, 0.0) if factor == "backbone" else np.where(b1 == i1, effect, -effect) / 4
    x[:, ::PER_TABLE] += planted[:, None]
    table = _tables(x, factors, OriginSettings(resamples=0, min_effect=0.0)).iloc[::PER_TABLE]
    found = (table[f"q_{factor}"] < 0.05).mean()
    assert abs(found - reported) <= 0.10
    assert (table.origin == ("pretraining" if factor == "backbone" else "interaction")).mean() >= 0.7
    # what each table prints is the same figure, estimated from its own seeds
    assert table[f"mde_{factor}"].median() == pytest.approx(effect, rel=0.15)


def test_seed_noise_is_called_in_at_most_5_percent_of_tables_when_seeds_have_no_effect():
    planted = {f"t{t}-b{j}": PlantedBias(noise_sd=0.3) for t in range(200) for j in range(PER_TABLE)}
    m, pairs = simulate_pairs(planted, n_pairs=12, seed=3)
    table = origin_table(m, pairs, SIMULATED, families=np.repeat(np.arange(200), PER_TABLE))
    assert (table.p_seed < 0.05).mean() == pytest.approx(0.05, abs=0.015)  # the test holds its level
    called = (table.origin == "seed noise").to_numpy().reshape(-1, PER_TABLE).any(axis=1)
    assert called.mean() <= 0.05


def test_real_seed_noise_is_called_on_the_per_pair_path_and_never_on_a_plain_table():
    m, pairs = simulate_pairs({f"s{j}": PlantedBias(seed_sd=0.3) for j in range(6)}, seed=4)
    assert (origin_table(m, pairs, SIMULATED).origin == "seed noise").mean() >= 0.5
    plain = origin_table(m, settings=SIMULATED)
    assert "seed noise" not in set(plain.origin) and plain.p_seed.isna().all()
    assert "Seed noise cannot be called on a plain score table" in _verdict(m)


def test_an_effect_beyond_noise_but_below_the_minimum_is_below_minimum_effect_not_no_signal():
    factors = _grid()
    x = np.random.default_rng(5).normal(0, 0.01, (len(factors), 20))
    x += np.where(factors.backbone == "b1", 0.05, 0.0)[:, None]
    table = origin_table(BiasMatrix(pd.DataFrame(x, index=factors.index,
                                                 columns=[f"x{j}" for j in range(20)]), factors),
                         settings=SIMULATED)
    assert (table.origin == "below minimum effect").mean() >= 0.9
    assert (table.reason[table.origin == "below minimum effect"] == "threshold").all()


def test_too_much_noise_is_inconclusive_and_the_verdict_says_noise_keeps_it_uncalled():
    factors = _grid()
    x = np.random.default_rng(6).normal(0, 0.1, (len(factors), 4))
    x += np.where(factors.backbone == "b1", 0.15, 0.0)[:, None]
    m = BiasMatrix(pd.DataFrame(x, index=factors.index, columns=list("abcd")), factors)
    table = origin_table(m, settings=SIMULATED)
    assert set(table.origin) <= {"inconclusive", "pretraining"}
    assert "Kept uncalled by noise" in _verdict(m)
    assert "this design detects backbone effects of" in _verdict(m)
    assert (table.mde_backbone > 0.088).all()


def test_one_seed_per_cell_has_no_interaction_test_no_seed_noise_and_no_zero_width_interval():
    m, pairs = simulate_pairs({"x": PlantedBias(backbone=0.3, seed_sd=0.05),
                               "y": PlantedBias(seed_sd=0.3)}, n_seeds=1, seed=7)
    table = origin_table(m, pairs, SIMULATED).set_index("bias")
    assert table.p_interaction.isna().all() and table.mde_interaction.isna().all()
    assert "seed noise" not in set(table.origin) and table.p_seed.isna().all()
    assert (table.effect_backbone_high - table.effect_backbone_low > 0).all()
    assert (table.df_residual == 1).all()
    verdict = _verdict(m, pairs)
    assert "cannot separate interaction from seed noise" in verdict
    assert "1 seed per cell" in verdict


def test_a_missing_cell_drops_the_interaction_with_a_note():
    m, pairs = simulate_pairs({"x": PlantedBias(backbone=0.3), "y": PlantedBias()}, seed=8)
    keep = ~((m.factors.backbone == "b1") & (m.factors.instruction == "i1"))
    cut = BiasMatrix(m.scores[keep], m.factors[keep])
    table = origin_table(cut, pairs, SIMULATED).set_index("bias")
    assert table.p_interaction.isna().all()
    assert table.loc["x", "origin"] == "pretraining"
    assert "No seeded model in cell(s) b1 x i1: the interaction is dropped" in _verdict(cut, pairs)


def test_released_models_in_a_cell_are_never_counted_as_seeds():
    m, _ = simulate_pairs({f"q{j}": PlantedBias(noise_sd=0.01) for j in range(4)}, seed=9)
    released = pd.DataFrame(5.0, index=["Released-A", "Released-B"], columns=m.scores.columns)
    scores = pd.concat([m.scores, released])
    factors = pd.concat([m.factors, pd.DataFrame({"backbone": "b0", "instruction": "i0", "seed": ""},
                                                 index=released.index)])
    with_released = origin_table(BiasMatrix(scores, factors), settings=SIMULATED)
    without = origin_table(m, settings=SIMULATED)
    pd.testing.assert_series_equal(with_released.origin, without.origin)
    assert np.allclose(with_released.p_backbone, without.p_backbone)
    verdict = analyze(BiasMatrix(scores, factors), n_permutations=19).verdict
    assert "2 model(s) without a seed label are references and enter no test" in verdict


def test_a_task_accuracy_row_does_not_move_the_calls_of_the_registered_biases():
    biases = ["anchoring", "Framing Effect", "status quo bias", "halo_effect"]
    m, _ = simulate_pairs({b: PlantedBias(backbone=0.09 * k, noise_sd=0.3) for k, b in enumerate(biases)},
                          seed=10)
    mmlu = pd.Series(np.where(m.factors.backbone == "b1", 0.6, 0.3), index=m.scores.index, name="MMLU")
    with_row = BiasMatrix(m.scores.join(mmlu), m.factors)
    a, b = origin_table(with_row, settings=SIMULATED), origin_table(m, settings=SIMULATED)
    assert np.allclose(a.q_backbone[:4], b.q_backbone) and list(a.origin[:4]) == list(b.origin)
    assert list(a.family) == ["registered"] * 4 + ["other"]
    assert unregistered(list(with_row.scores.columns)) == ["MMLU"]


def test_the_planner_asks_for_more_seeds_for_a_smaller_target():
    level = 0.05 / 102
    seeds = seeds_needed(2, 2, sigma=0.1, target=0.3, level=level)
    assert detectable_effect(grid_design(2, 2, seeds), "backbone", 0.1, level) <= 0.3
    assert detectable_effect(grid_design(2, 2, seeds - 1), "backbone", 0.1, level) > 0.3
    assert seeds_needed(2, 2, sigma=0.1, target=0.15, level=level) > seeds
    assert seeds_needed(2, 2, sigma=0.1, target=1e-4, level=0.05, most=30) is None


def test_the_planner_reads_the_noise_of_an_earlier_analysis_and_more_pairs_shrink_only_its_pair_part(
        tmp_path):
    from crosstune.analysis.plan import noise_from, plan

    m, pairs = simulate_pairs({f"b{j}": PlantedBias(seed_sd=0.05, noise_sd=0.5) for j in range(4)},
                              n_pairs=20, seed=11)
    origin_table(m, pairs, SIMULATED).to_csv(tmp_path / "origins.csv", index=False)
    noise = noise_from(tmp_path)
    assert noise.n_pairs == 20 and noise.pair_sd == pytest.approx(0.5, rel=0.2)
    now = plan(2, 2, 3, noise, biases=4).set_index("factor").detectable_effect
    more_pairs = plan(2, 2, 3, noise, biases=4, pairs=200).set_index("factor").detectable_effect
    assert (more_pairs < now).all()
    needed = plan(2, 2, 3, noise, biases=4, target=0.1).set_index("factor").seeds_needed
    assert needed["backbone"] is not None and needed["interaction"] > needed["backbone"]
