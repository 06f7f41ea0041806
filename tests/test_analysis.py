"""Attribution analysis: recovers planted effects, holds its false-positive rate, clear errors."""

import numpy as np
import pandas as pd
import pytest

from crosstune.analysis.attribute import analyze, write_analysis
from crosstune.analysis.clustering import permutation_pvalues
from crosstune.analysis.matrix import BiasMatrix, assemble, labels_from_rules, read_scores_table
from crosstune.analysis.seeds import reference_agreement, seed_sd
from crosstune.analysis.simulate import planted_shares, simulate
from crosstune.analysis.variance import (
    _main_effect_shares,
    backbone_vs_instruction,
    eta_squared,
    variance_shares,
)
from crosstune.errors import CrosstuneError
from crosstune.report.html import render_report


def test_variance_shares_recover_planted_effects():
    design = dict(n_backbones=4, n_instructions=4, sd_backbone=0.3, sd_instruction=0.15,
                  sd_seed=0.1)
    m = simulate(n_seeds=5, n_biases=80, seed=1, **design)
    mean = variance_shares(m).set_index("bias").loc["pooled"]
    planted = planted_shares(**design)
    assert mean.backbone == pytest.approx(planted["backbone"], abs=0.08)
    assert mean.instruction == pytest.approx(planted["instruction"], abs=0.08)
    assert mean.residual + mean.interaction == pytest.approx(planted["residual"], abs=0.08)


def test_fast_main_effects_equal_statsmodels_anova_on_balanced_designs():
    m = simulate(n_seeds=3, n_biases=5, seed=2)
    x = m.scores.to_numpy()
    b, i = _main_effect_shares(x, m.factors.backbone.to_numpy(), m.factors.instruction.to_numpy())
    for j in range(x.shape[1]):
        shares = eta_squared(x[:, j], m.factors.backbone.to_numpy(), m.factors.instruction.to_numpy())
        assert b[j] == pytest.approx(shares["backbone"])
        assert i[j] == pytest.approx(shares["instruction"])


def test_backbone_dominance_is_detected_and_not_invented():
    strong = simulate(sd_backbone=0.4, sd_instruction=0.02, sd_seed=0.05, seed=3)
    assert backbone_vs_instruction(strong, 199)["p_value"] < 0.05
    reverse = simulate(sd_backbone=0.02, sd_instruction=0.4, sd_seed=0.05, seed=3)
    assert backbone_vs_instruction(reverse, 199)["p_value"] > 0.5


def test_permutation_tests_hold_their_false_positive_rate_on_null_data():
    rejections = {"silhouette": 0, "davies_bouldin": 0}
    trials = 60
    for t in range(trials):
        m = simulate(sd_backbone=0.0, sd_instruction=0.0, sd_seed=0.1, n_biases=10, seed=100 + t)
        _, p = permutation_pvalues(m.values(), m.factors.backbone.to_numpy(), 49, seed=t)
        for name in rejections:
            rejections[name] += p[name] <= 0.05
    for name, count in rejections.items():
        assert count / trials <= 0.15, name


def test_davies_bouldin_p_value_counts_lower_as_better():
    m = simulate(sd_backbone=0.5, sd_instruction=0.0, sd_seed=0.02, seed=4)
    observed, p = permutation_pvalues(m.values(), m.factors.backbone.to_numpy(), 99, seed=0)
    assert observed["davies_bouldin"] < 1.0
    assert p["davies_bouldin"] < 0.05 and p["silhouette"] < 0.05


def test_seed_sd_is_the_sample_sd_across_seeds():
    m = simulate(n_seeds=3, n_biases=4, seed=5)
    table = seed_sd(m).set_index(["backbone", "instruction"])
    block = m.scores[(m.factors.backbone == "b0") & (m.factors.instruction == "i1")]
    expected = block.std(ddof=1)
    assert table.loc[("b0", "i1"), "bias_00"] == pytest.approx(expected["bias_00"])
    assert table.loc[("b0", "i1"), "mean_sd"] == pytest.approx(expected.mean())


def test_reference_agreement_treats_small_scores_as_neutral():
    scores = pd.DataFrame({"a": [0.5, 0.4, -0.3], "b": [0.05, -0.02, 0.5]},
                          index=["s0", "s1", "s2"])
    factors = pd.DataFrame({"backbone": "x", "instruction": "y", "seed": ["0", "1", "2"]},
                           index=scores.index)
    m = BiasMatrix(scores, factors)
    ref = pd.Series({"a": 0.9, "b": 0.0}, name="released")
    table = reference_agreement(m, {"x": ref}, band=0.088)
    assert table.share_preserved.iloc[0] == 1.0  # a: + and +; b: neutral and neutral


def test_transposed_table_is_detected_and_exclude_drops_rows(tmp_path):
    path = tmp_path / "scores.csv"
    pd.DataFrame({"model": ["m1", "m2"], "anchoring": [0.1, 0.2], "framing_effect": [0.3, 0.1],
                  "mmlu": [0.5, 0.6]}).to_csv(path, index=False)
    table = read_scores_table(path, exclude=("mmlu",))
    assert list(table.index) == ["m1", "m2"]
    assert list(table.columns) == ["anchoring", "framing_effect"]


def test_non_numeric_cell_is_named(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("bias,m1,m2\nanchoring,0.1,oops\nframing_effect,0.2,0.3\n")
    with pytest.raises(CrosstuneError, match="'oops' for model 'm2', bias 'anchoring'"):
        read_scores_table(path)


def test_duplicated_model_is_an_error(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("bias,m1,m1\nanchoring,0.1,0.2\n")
    with pytest.raises(CrosstuneError, match="duplicated"):
        read_scores_table(path)


def test_unlabelled_model_and_missing_scores_are_errors():
    scores = pd.DataFrame({"anchoring": [0.1, np.nan]}, index=["llama-tulu-s0", "olmo-flan-s0"])
    with pytest.raises(CrosstuneError, match="without factor labels"):
        assemble(scores, pd.DataFrame({"backbone": ["llama"]}, index=["llama-tulu-s0"]))
    factors = labels_from_rules(list(scores.index), ["backbone=^(\\w+)-", "instruction=-(\\w+)-"])
    with pytest.raises(CrosstuneError, match="missing score"):
        assemble(scores, factors)
    assert assemble(scores, factors, "zero").scores.iloc[1, 0] == 0.0


def test_rule_that_matches_nothing_names_the_model():
    with pytest.raises(CrosstuneError, match="olmo"):
        labels_from_rules(["olmo"], ["backbone=llama"])


def test_full_analysis_writes_tables_json_and_a_report(tmp_path):
    m = simulate(seed=6)
    result = analyze(m, n_permutations=49)
    assert "backbone" in result.verdict and "%" in result.verdict
    write_analysis(result, tmp_path)
    render_report(result, tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    assert html.count("<img") >= 5 and html.count("<table") >= 4
    assert (tmp_path / "clustering.csv").exists() and (tmp_path / "analysis.json").exists()


def test_cross_run_folder_analyses_only_finetuned_models_that_learned(tmp_path):
    from crosstune.analysis.inputs import cross_run

    m = simulate(seed=7)
    labels = m.factors.assign(learned="True")
    labels.loc[labels.index[0], "learned"] = "False"
    untuned = pd.DataFrame({"backbone": ["b0"], "instruction": ["untuned"], "seed": [""],
                            "learned": [""]}, index=["b0--untuned"])
    scores = pd.concat([m.scores, m.scores.iloc[[0]].set_axis(["b0--untuned"])])
    pd.concat([labels, untuned]).rename_axis("model").to_csv(tmp_path / "labels.csv")
    scores.rename_axis("model").to_csv(tmp_path / "scores.csv")
    (tmp_path / "spec.json").write_text("{}")
    matrix, references = cross_run(tmp_path)
    assert list(references) == ["b0"]
    assert len(matrix.scores) == len(m.scores) - 1
    assert "b0--untuned" not in matrix.scores.index
    assert any("did not learn" in note for note in matrix.notes)
