"""Attribution analysis: recovers planted effects, holds its false-positive rate, clear errors."""

import itertools

import numpy as np
import pandas as pd
import pytest

from crosstune.analysis.attribute import analyze, settings_lines, strength
from crosstune.analysis.clustering import cluster_quality, permutation_pvalues
from crosstune.analysis.matrix import BiasMatrix, assemble, labels_from_rules, read_scores_table
from crosstune.analysis.permutation import assignments, count_assignments, count_partitions, partitions
from crosstune.analysis.seeds import reference_agreement, seed_sd
from crosstune.analysis.simulate import planted_shares, simulate
from crosstune.analysis.variance import (
    _main_effect_shares,
    anova_shares,
    backbone_vs_instruction,
    variance_shares,
)
from crosstune.errors import CrosstuneError
from crosstune.report.folder import write_analysis
from crosstune.report.html import render_report


def statsmodels_shares(values: np.ndarray, backbone: np.ndarray, instruction: np.ndarray
                       ) -> dict[str, float]:
    """The reference: one statsmodels type II ANOVA per feature, as the analysis once did."""
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    frame = pd.DataFrame({"y": values, "backbone": backbone, "instruction": instruction})
    replicated = frame.groupby(["backbone", "instruction"]).size().min() >= 2
    formula = "y ~ C(backbone) * C(instruction)" if replicated else "y ~ C(backbone) + C(instruction)"
    table = anova_lm(smf.ols(formula, frame).fit(), typ=2)
    total = float(((values - values.mean()) ** 2).sum())
    terms = {"C(backbone)": "backbone", "C(instruction)": "instruction",
             "C(backbone):C(instruction)": "interaction", "Residual": "residual"}
    return {name: float(table.loc[term, "sum_sq"]) / total if term in table.index else np.nan
            for term, name in terms.items()}


def test_variance_shares_recover_planted_effects():
    design = dict(n_backbones=4, n_instructions=4, sd_backbone=0.3, sd_instruction=0.15,
                  sd_seed=0.1)
    m = simulate(n_seeds=5, n_biases=80, seed=1, **design)
    mean = variance_shares(m).aggregates.loc["pooled"]
    planted = planted_shares(**design)
    assert mean.backbone == pytest.approx(planted["backbone"], abs=0.08)
    assert mean.instruction == pytest.approx(planted["instruction"], abs=0.08)
    assert mean.residual + mean.interaction == pytest.approx(planted["residual"], abs=0.08)


def test_fast_main_effects_equal_statsmodels_anova_on_balanced_designs():
    m = simulate(n_seeds=3, n_biases=5, seed=2)
    x = m.scores.to_numpy()
    b, i = _main_effect_shares(x, m.factors.backbone.to_numpy(), m.factors.instruction.to_numpy())
    for j in range(x.shape[1]):
        shares = statsmodels_shares(x[:, j], m.factors.backbone.to_numpy(), m.factors.instruction.to_numpy())
        assert b[j] == pytest.approx(shares["backbone"])
        assert i[j] == pytest.approx(shares["instruction"])


def test_backbone_dominance_is_detected_and_not_invented():
    strong = simulate(sd_backbone=0.4, sd_instruction=0.02, sd_seed=0.05, seed=3)
    assert backbone_vs_instruction(strong, 199).p_value < 0.05
    reverse = simulate(sd_backbone=0.02, sd_instruction=0.4, sd_seed=0.05, seed=3)
    assert backbone_vs_instruction(reverse, 199).p_value > 0.5


def test_permutation_tests_hold_their_false_positive_rate_on_null_data():
    rejections = {"silhouette": 0, "davies_bouldin": 0}
    trials = 60
    for t in range(trials):
        m = simulate(sd_backbone=0.0, sd_instruction=0.0, sd_seed=0.1, n_biases=10, seed=100 + t)
        _, p, _ = permutation_pvalues(m.values(), m.factors.backbone.to_numpy(), 49, seed=t)
        for name in rejections:
            rejections[name] += p[name] <= 0.05
    for name, count in rejections.items():
        assert count / trials <= 0.15, name


def test_davies_bouldin_p_value_counts_lower_as_better():
    m = simulate(sd_backbone=0.5, sd_instruction=0.0, sd_seed=0.02, seed=4)
    observed, p, _ = permutation_pvalues(m.values(), m.factors.backbone.to_numpy(), 99, seed=0)
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


def paper_design() -> BiasMatrix:
    """2 backbones x 2 datasets x 3 seeds, plus each backbone's released finetune (no seed)."""
    rng = np.random.default_rng(11)
    rows, labels = {}, {}
    for b in ("olmo", "t5"):
        for d in ("tulu", "flan"):
            for s in ("0", "1", "2"):
                rows[f"{b}-{d}-seed{s}"] = rng.normal(0, 0.2, 4)
                labels[f"{b}-{d}-seed{s}"] = {"backbone": b, "instruction": d, "seed": s}
    rows["olmo-tulu-released"] = np.array([3.0, -3.0, 3.0, -3.0])  # far away: would inflate the SD
    labels["olmo-tulu-released"] = {"backbone": "olmo", "instruction": "tulu", "seed": ""}
    rows["t5-flan-released"] = np.array([-2.0, 2.0, -2.0, 2.0])
    labels["t5-flan-released"] = {"backbone": "t5", "instruction": "flan", "seed": ""}
    scores = pd.DataFrame.from_dict(rows, orient="index", columns=["a", "b", "c", "d"])
    return BiasMatrix(scores, pd.DataFrame.from_dict(labels, orient="index"))


def test_seed_sd_counts_seeded_replicates_only():
    m = paper_design()
    table = seed_sd(m).set_index(["backbone", "instruction"])
    for b, d in [("olmo", "tulu"), ("t5", "flan"), ("olmo", "flan")]:
        seeds = m.scores.loc[[f"{b}-{d}-seed{s}" for s in "012"]].to_numpy()
        by_hand = np.sqrt(((seeds - seeds.mean(axis=0)) ** 2).sum(axis=0) / 2)  # ddof = 1 over 3 seeds
        assert table.loc[(b, d), "n_seeds"] == 3
        assert table.loc[(b, d), "mean_sd"] == pytest.approx(by_hand.mean(), abs=1e-12)


def test_released_models_stay_in_their_groups_for_clustering_and_variance():
    m = paper_design()
    result = analyze(m, n_permutations=49)
    assert result.settings["n_models"] == 14
    assert len(result.tables["pca"]) == 14
    assert any("not counted as seeds" in note and "olmo-tulu-released" in note for note in result.notes)


def test_a_seed_rule_that_does_not_match_leaves_the_seed_empty():
    factors = labels_from_rules(["olmo-tulu-seed1", "olmo-tulu-released"],
                                ["backbone=^(\\w+)-", "seed=seed(\\d+)"])
    assert factors.loc["olmo-tulu-seed1", "seed"] == "1"
    assert factors.loc["olmo-tulu-released", "seed"] == ""


def test_two_groups_of_three_have_ten_partitions_and_twenty_labelled_assignments():
    labels = np.array(list("aaabbb"))
    assert count_partitions(labels) == 10
    assert count_assignments(labels) == 20
    found = {frozenset(frozenset(np.flatnonzero(p == g)) for g in set(p)) for p in partitions(labels)}
    assert len(found) == len(list(partitions(labels))) == 10
    assert len({tuple(a) for a in assignments(labels)}) == 20


@pytest.mark.parametrize("labels", ["aabbcc", "aabbbb", "aabbbccccd", "abcd"])
def test_partition_enumeration_matches_its_count(labels):
    labels = np.array(list(labels))
    found = [tuple(p) for p in partitions(labels)]
    assert len(set(found)) == len(found) == count_partitions(labels)
    assert sum(1 for _ in assignments(labels)) == count_assignments(labels)


def test_exact_p_value_on_a_hand_built_table():
    # Six models on a line at 0..5, grouped {0,1,3} / {2,4,5}: within-group distances sum to 12.
    # Of the 10 partitions into two triples only {0,1,2}/{3,4,5} (sum 8) and the observed one have
    # a sum <= 12, so the exact p of mean intra distance (lower is better) is 2/10; mean inter
    # distance is (35 - sum) / 9 (higher is better), the same ordering, so also 2/10.
    x = np.arange(6, dtype=float)[:, None]
    labels = np.array(["g", "g", "h", "g", "h", "h"])
    observed, p, how = permutation_pvalues(x, labels, n_permutations=999, seed=0)
    assert how.describe() == "exact, 10 relabellings"
    assert observed["intra_distance"] == pytest.approx(2.0)
    assert p["intra_distance"] == pytest.approx(0.2)
    assert p["inter_distance"] == pytest.approx(0.2)
    # enumerating the 20 labelled assignments gives the same p (4 of 20)
    intra = [np.abs(x - x.T)[(a[:, None] == a[None, :]) & ~np.eye(6, dtype=bool)].mean()
             for a in assignments(labels)]
    assert np.mean(np.array(intra) <= 2.0 + 1e-12) == pytest.approx(0.2)


def test_monte_carlo_is_used_and_said_when_relabellings_outnumber_permutations():
    x = np.arange(6, dtype=float)[:, None]
    _, _, how = permutation_pvalues(x, np.array(list("gghghh")), n_permutations=9, seed=0)
    assert how.describe() == "Monte Carlo, 9 permutations"
    table = analyze(simulate(seed=1), n_permutations=49).tables["clustering"]
    assert set(table.null) == {"Monte Carlo, 49 permutations"}


def test_backbone_vs_instruction_enumerates_small_designs_exactly():
    m = simulate(n_seeds=1, n_biases=6, seed=8)  # 4 models, one per cell: 4! = 24 assignments
    test = backbone_vs_instruction(m, n_permutations=999)
    assert test.null == "exact, 24 relabellings" and test.exact
    x = m.scores.to_numpy()
    gaps = []
    for order in itertools.permutations(range(4)):
        b, i = _main_effect_shares(x, m.factors.backbone.to_numpy()[list(order)],
                                   m.factors.instruction.to_numpy()[list(order)])
        gaps.append(np.nanmean(b) - np.nanmean(i))
    assert test.p_value == pytest.approx(np.mean(np.array(gaps) >= test.gap - 1e-12))


def test_vectorised_anova_equals_statsmodels_per_feature():
    rng = np.random.default_rng(3)
    designs = {
        "balanced, interaction": (["b0", "b1", "b2"] * 8, ["i0"] * 12 + ["i1"] * 12),
        "unbalanced, interaction": (list("xxxxxyyyyyyyxx"), list("ppqqqppqqqqppp")),
        "a single-model cell, additive": (list("xxxyyyy"), list("pqqppqp")),
    }
    for name, (backbone, instruction) in designs.items():
        backbone, instruction = np.array(backbone), np.array(instruction)
        x = rng.normal(size=(len(backbone), 40)) + (backbone == backbone[0])[:, None]
        fast = anova_shares(x, backbone, instruction)
        for j in range(x.shape[1]):
            reference = statsmodels_shares(x[:, j], backbone, instruction)
            for term, value in reference.items():
                assert fast.loc[j, term] == pytest.approx(value, abs=1e-10, nan_ok=True), (name, term)


def test_a_factor_with_one_group_is_reported_and_the_rest_computed():
    m = simulate(n_backbones=1, n_instructions=3, seed=9)
    result = analyze(m, n_permutations=19)
    clustering = result.tables["clustering"].set_index("labelling")
    assert np.isnan(clustering.loc["backbone", "silhouette"])
    assert clustering.loc["backbone", "null"] == "not testable"
    assert not np.isnan(clustering.loc["instruction", "p_silhouette"])
    pooled = result.tables["variance_aggregates"].set_index("aggregate").loc["pooled"]
    assert np.isnan(pooled.backbone) and pooled.instruction > 0
    assert not result.tables["seed_sd"].empty
    assert any("only one backbone" in note for note in result.notes)
    assert "cannot be tested" in result.verdict


@pytest.mark.parametrize(("p", "words"), [(0.001, "strong evidence"), (0.03, "evidence"),
                                          (0.07, "weak evidence"), (0.4, "no significant evidence")])
def test_strength_words_follow_the_p_value(p, words):
    assert strength(p).startswith(words)
    assert (strength(p) == "evidence") == (0.01 <= p < 0.05)


def test_verdict_claims_dominance_only_when_significant():
    strong = analyze(simulate(sd_backbone=0.5, sd_instruction=0.02, seed=3), n_permutations=199)
    lead = "Pretraining explains more of the variance than instruction data: strong evidence"
    assert lead in strong.verdict
    null = analyze(simulate(sd_backbone=0.0, sd_instruction=0.0, sd_seed=0.1, seed=12), n_permutations=199)
    assert null.backbone_test.p_value >= 0.05 and null.backbone_test.p_instruction >= 0.05
    assert "no factor is called dominant" in null.verdict and "explains more" not in null.verdict
    for result in (strong, null):
        assert "not significantly dominates" not in result.verdict
        assert "Monte Carlo, 199 permutations" in result.verdict


def test_settings_are_readable_lines_in_the_report(tmp_path):
    result = analyze(simulate(seed=6), n_permutations=19)
    lines = settings_lines(result.settings)
    assert "permutations per p-value: 19" in lines and "features standardised: no" in lines
    render_report(result, tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    assert "<li>permutations per p-value: 19</li>" in html
    assert "{'n_permutations'" not in html and "{&#39;n_permutations" not in html


def test_user_strings_are_escaped_in_the_report(tmp_path):
    m = simulate(seed=6)
    evil = "<script>alert(1)</script>"
    m.scores.index = [f"{evil}{i}$x^{{" for i in range(len(m.scores))]  # not mathtext either
    m.factors.index = m.scores.index
    m.scores.columns = [f"<b>{c}</b>" for c in m.scores.columns]
    m.factors["backbone"] = m.factors.backbone + "<img src=x onerror=alert(2)>"
    m.notes.append(f"left out {evil}")
    result = analyze(m, n_permutations=9)
    render_report(result, tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    assert "<script>" not in html and "<img src=x" not in html and "<b>bias" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_references_need_an_explicit_band_and_a_valid_one():
    m = paper_design()
    ref = {"olmo": m.scores.loc["olmo-tulu-released"]}
    with pytest.raises(CrosstuneError, match="band"):
        analyze(m, n_permutations=9, references=ref)
    with pytest.raises(CrosstuneError, match="band"):
        analyze(m, n_permutations=9, references=ref, band=-0.1)
    wide = reference_agreement(m, ref, band=10.0)  # every score neutral: full agreement
    assert set(wide.share_preserved) == {1.0}


@pytest.mark.parametrize("labels", ["aaabbbccc", "aabbbbbcd", "abababab", "aaaaaaab"])
def test_cluster_metrics_from_distances_equal_scikit_learn(labels):
    from scipy.spatial.distance import cdist
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    labels = np.array(list(labels))
    x = np.random.default_rng(len(labels)).normal(size=(len(labels), 50)) + (labels == "a")[:, None]
    fast = cluster_quality(x, labels)
    assert fast["silhouette"] == pytest.approx(silhouette_score(x, labels), rel=1e-9)
    assert fast["calinski_harabasz"] == pytest.approx(calinski_harabasz_score(x, labels), rel=1e-9)
    # scikit-learn's Euclidean distances expand |x-c|^2 = |x|^2 - 2xc + |c|^2 (about 1e-8 relative
    # error); explicit centroids agree with the distance-matrix form to rounding
    assert fast["davies_bouldin"] == pytest.approx(davies_bouldin_score(x, labels), rel=1e-7)
    groups = np.unique(labels)
    centroids = np.array([x[labels == g].mean(axis=0) for g in groups])
    scatter = np.array([np.linalg.norm(x[labels == g] - centroids[i], axis=1).mean()
                        for i, g in enumerate(groups)])
    between = np.linalg.norm(centroids[:, None] - centroids[None], axis=2)
    np.fill_diagonal(between, np.inf)
    explicit = np.max((scatter[:, None] + scatter[None]) / between, axis=1).mean()
    assert fast["davies_bouldin"] == pytest.approx(explicit, rel=1e-12)
    d = cdist(x, x)
    same = labels[:, None] == labels[None, :]
    assert fast["intra_distance"] == pytest.approx(d[same & ~np.eye(len(x), dtype=bool)].mean())
    assert fast["inter_distance"] == pytest.approx(d[~same].mean())
