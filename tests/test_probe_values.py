"""probe values: ranks, the median unit, the mixed model's contrasts, MWLR, token alignment,
a reward model with a known preference, the LM path, external scores, and bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crosstune.errors import CrosstuneError
from crosstune.probes.runner import run_probe
from crosstune.probes.values import VALUES, ValuesConfig, values_request
from crosstune.probes.values import files as F
from crosstune.probes.values.implicit_reward import by_decoded, category_sums, extremes, mwlr, shared_mwlr
from crosstune.probes.values.lexicon import read_lexicon
from crosstune.probes.values.lm import decoded_vocabulary
from crosstune.probes.values.prompts import framing_of, select_prompts, standard_prompts
from crosstune.probes.values.ranks import median_ranks, rank_words
from crosstune.probes.values.stats import cell_tests, mixed_model, with_levels
from crosstune.store import REPORT
from tests.conftest import USER_HOME
from tests.values_fixtures import demo_words, save_reward_model, save_tiny_lm, train_tokenizer


def probe_values(given: dict):
    """`crosstune probe values` as a library call: inputs, settings and folder apart, one runner."""
    settings = dict(given)
    inputs = {k: settings.pop(k, None) for k in ("models", "reward_models", "rewards")}
    out = settings.pop("out")
    return run_probe(VALUES, values_request(**inputs), ValuesConfig(**settings), out)


KEYS = ["best_ever_one", "greatest_world_please", "good_time_single",
        "worst_ever_one", "bad_world_please", "terrible_time_single"]


# --- prompts and lexicons ------------------------------------------------------------------

def test_standard_prompts_are_54_with_the_papers_wording_and_framing():
    prompts = {p.key: p for p in standard_prompts()}
    assert len(prompts) == 54
    assert prompts["good_world_one"].text == "What, in one word, is the most good thing in the world?"
    assert prompts["terrible_time_single"].text == \
        "What, in a single word, is the most terrible thing of all time?"
    assert prompts["greatest_ever_please"].text == \
        "What is the greatest thing ever? Please answer in one word only."
    assert sum(p.framing == "positive" for p in prompts.values()) == 27
    assert framing_of("bad_ever_one") == "negative" and framing_of("good_ever_one") == "positive"


@pytest.mark.parametrize("key", ["nice_ever_one", "best-ever-one", "Best_ever_one", "best_ever"])
def test_prompt_key_outside_the_scheme_is_an_error(key):
    with pytest.raises(CrosstuneError, match="does not follow <adjective>_<superlative>_<style>"):
        framing_of(key)


def test_prompt_file_adds_prompts_with_scheme_keys(tmp_path):
    extra = tmp_path / "p.toml"
    extra.write_text('[prompts]\nbest_life_short = "Best thing in life, one word?"\n')
    chosen = select_prompts(["best_life_short", "worst_ever_one"], extra)
    assert [p.key for p in chosen] == ["best_life_short", "worst_ever_one"]
    assert chosen[0].framing == "positive"
    bad = tmp_path / "bad.csv"
    bad.write_text("key,text\nawesome_ever_one,What?\n")
    with pytest.raises(CrosstuneError, match="awesome_ever_one"):
        select_prompts(None, bad)


def test_liwc_dic_and_dicx_read_the_same_and_wildcards_expand_against_a_vocabulary(tmp_path):
    dic = tmp_path / "big2.dic"
    dic.write_text("%\n1\tagency\n2\tcommunion\n%\nlead*\t1\ncare\t2\nhelp*\t2 1\n")
    dicx = tmp_path / "big2.dicx"
    dicx.write_text("DicTerm,agency,communion\nlead*,X,\ncare,,X\nhelp*,X,X\n")
    a, b = read_lexicon(dic), read_lexicon(dicx)
    key = ["category", "term"]
    assert a.entries.sort_values(key).values.tolist() == b.entries.sort_values(key).values.tolist()
    assert a.categories == ["agency", "communion"]
    words, unmatched = a.expand(["Leader", "leading", "mislead", "care", "cart"])
    assert sorted(words.loc[words.category == "agency", "word"]) == ["Leader", "leading"]
    assert set(unmatched["word"]) == {"help*"}


def test_csv_lexicon_needs_category_and_token_decoded(tmp_path):
    bad = tmp_path / "lex.csv"
    bad.write_text("category,word\nagency,power\n")
    with pytest.raises(CrosstuneError, match="Category,token_decoded"):
        read_lexicon(bad)


# --- ranks and the unit of analysis --------------------------------------------------------

def test_ties_share_their_average_rank_and_the_best_score_is_rank_1():
    scores = pd.DataFrame({"model": "m", "prompt": "best_ever_one", "word": list("abcde"),
                           "score": [3.0, 1.0, 1.0, 1.0, 5.0]})
    ranked = rank_words(scores).set_index("word")["rank"]
    assert ranked.to_dict() == {"e": 1.0, "a": 2.0, "b": 4.0, "c": 4.0, "d": 4.0}


def test_median_rank_per_model_category_prompt_counts_a_word_in_each_of_its_categories():
    ranked = pd.DataFrame({"model": "m", "prompt": "worst_ever_one", "word": list("abcd"),
                           "score": [4.0, 3.0, 2.0, 1.0]}).pipe(rank_words)
    words = pd.DataFrame({"category": ["agency", "agency", "communion", "communion", "communion"],
                          "word": ["a", "b", "b", "c", "d"]})
    medians = median_ranks(ranked, words, {"m": "fam"}).set_index("category")
    assert medians.loc["agency", "median_rank"] == 1.5          # ranks 1, 2
    assert medians.loc["communion", "median_rank"] == 3.0       # ranks 2, 3, 4
    assert medians.loc["communion", "n_words"] == 3
    assert set(medians["framing"]) == {"negative"} and set(medians["family"]) == {"fam"}


def _simulated_medians(seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for model, family in [("z1", "zeta"), ("z2", "zeta"), ("z3", "zeta"),
                          ("a1", "alpha"), ("a2", "alpha"), ("a3", "alpha")]:
        shift = rng.normal()
        for key in KEYS:
            for category in ("communion", "agency"):
                effect = 5.0 if (family == "alpha" and category == "agency") else 0.0
                rows.append((model, family, category, key, framing_of(key),
                             10 + shift + effect + rng.normal()))
    return pd.DataFrame(rows, columns=["model", "family", "category", "prompt", "framing", "median_rank"])


def test_mixed_model_uses_the_users_first_family_first_category_and_positive_framing_as_reference():
    data = with_levels(_simulated_medians(), ["zeta", "alpha"], ["communion", "agency"])
    fit = mixed_model(data)
    terms = list(fit.coefficients["term"])
    assert terms[:4] == ["Intercept", "family[T.alpha]", "category[T.agency]", "framing[T.negative]"]
    assert "family[T.alpha]:category[T.agency]:framing[T.negative]" in terms
    assert fit.info["reference_levels"] == {"family": "zeta", "category": "communion",
                                            "framing": "positive"}
    table = fit.coefficients.set_index("term")
    assert table.loc["family[T.alpha]:category[T.agency]", "estimate"] == pytest.approx(5.0, abs=1.0)
    # nlme's containment degrees of freedom: between-model terms get models - 1 - their count
    assert table.loc["family[T.alpha]", "df"] == 6 - 1 - 1
    assert table.loc["category[T.agency]", "df"] == len(data) - 6 - 6


def test_cell_tests_bonferroni_over_cells_and_stars_from_the_corrected_welch_p():
    data = with_levels(_simulated_medians(), ["zeta", "alpha"], ["communion", "agency"])
    cells = cell_tests(data, permutations=199, seed=0).set_index(["category", "framing"])
    assert len(cells) == 4
    assert np.allclose(cells["p_bonferroni"], np.minimum(1, cells["p_welch"] * 4))
    assert cells.loc[("agency", "positive"), "difference"] > 3
    assert cells.loc[("agency", "positive"), "stars"] != ""
    # two-sided permutation p = 2 (hits + 1) / (resamples + 1): no resample beats a 5-rank shift
    assert cells.loc[("agency", "positive"), "p_permutation"] == pytest.approx(2 / 200)
    assert cells["p_permutation"].between(2 / 200, 1).all()


# --- implicit reward ----------------------------------------------------------------------

def test_mwlr_equals_the_hand_computed_mixture_weighted_log_ratio():
    p1 = np.array([0.5, 0.3, 0.2])
    p2 = np.array([0.25, 0.25, 0.5])
    got = mwlr(np.log(p1), np.log(p2))
    expected = [0.5 * 0.75 * np.log(2), 0.5 * 0.55 * np.log(0.3 / 0.25), 0.5 * 0.7 * np.log(0.4)]
    np.testing.assert_allclose(got, expected)
    assert got[0] == pytest.approx(0.259930, abs=1e-6)


def test_alike_decodings_keep_their_highest_log_prob_and_empty_ones_are_dropped():
    series = by_decoded(["a", " b", "a", "", "c"], np.log([0.1, 0.2, 0.3, 0.3, 0.1]))
    assert series.to_dict() == pytest.approx({"a": np.log(0.3), " b": np.log(0.2), "c": np.log(0.1)})


def test_shared_tokens_between_two_different_tokenizers_align_by_decoded_text():
    first = train_tokenizer(2000, extra=["zebra zebra quartz"] * 20)
    second = train_tokenizer(2000, extra=["yonder yonder kettle"] * 20)
    assert first.get_vocab() != second.get_vocab()
    dec1, dec2 = decoded_vocabulary(first), decoded_vocabulary(second)
    rng = np.random.default_rng(0)
    lp1, lp2 = np.log(rng.dirichlet(np.ones(len(dec1)))), np.log(rng.dirichlet(np.ones(len(dec2))))
    table = shared_mwlr(by_decoded(dec1, lp1), by_decoded(dec2, lp2)).set_index("token")
    assert set(table.index) == ({d for d in dec1 if d} & {d for d in dec2 if d})
    assert " zebra" not in table.index and " kettle" not in table.index
    for text in (" love", " power", "love"):
        assert table.loc[text, "logp_1"] == lp1[first.convert_tokens_to_ids(first.tokenize(text))[0]]
        assert table.loc[text, "logp_2"] == lp2[second.convert_tokens_to_ids(second.tokenize(text))[0]]
    assert table["mwlr"].is_monotonic_decreasing


def test_category_sums_add_the_mwlr_of_tokens_that_strip_to_a_lexicon_word():
    table = pd.DataFrame({"token": [" love", "love", " power", " the"], "logp_1": np.log([.2, .1, .1, .5]),
                          "logp_2": np.log([.1, .1, .3, .4])})
    table["mwlr"] = mwlr(table.logp_1.to_numpy(), table.logp_2.to_numpy())
    words = pd.DataFrame({"category": ["agency", "communion"], "word": ["power", "love"]})
    sums, _ = category_sums(table, words)
    sums = sums.set_index("category")
    assert sums.loc["communion", "mwlr_sum"] == pytest.approx(table.mwlr[0] + table.mwlr[1])
    assert sums.loc["communion", "n_tokens"] == 2 and sums.loc["agency", "n_tokens"] == 1
    assert len(extremes(table.sort_values("mwlr", ascending=False), 2)) == 4


# --- the reward-model path: a known answer ------------------------------------------------

@pytest.fixture(scope="module")
def reward_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rms")
    tok = train_tokenizer(900)
    prompts = select_prompts(KEYS)
    return {"communal-rm": save_reward_model(folder / "communal-rm", tok, prompts, "communion", seed=0),
            "agentic-rm": save_reward_model(folder / "agentic-rm", tok, prompts, "agency", seed=1),
            "three-outputs": save_reward_model(folder / "three-outputs", tok, prompts, None, num_labels=3)}


def test_probe_finds_the_category_a_reward_model_was_trained_to_prefer(reward_models, tmp_path):
    config = dict(reward_models=[str(reward_models["agentic-rm"]), str(reward_models["communal-rm"])],
                          rules=["family=^(agentic|communal)"], prompts=KEYS, permutations=199,
                          batch_size=64, out=tmp_path / "run")
    result = probe_values(config)
    means = result.tables[F.MEAN_OF_MEDIANS_FILE].set_index(["framing", "category"])
    for framing in ("positive", "negative"):
        assert means.loc[(framing, "communion"), "communal"] < means.loc[(framing, "agency"), "communal"] - 20
        assert means.loc[(framing, "agency"), "agentic"] < means.loc[(framing, "communion"), "agentic"] - 20
    mixed = result.tables[F.MIXED_FILE].set_index("term")
    interaction = mixed.loc["family[T.communal]:category[T.communion]"]
    assert interaction["estimate"] < -20 and interaction["p"] < 1e-6
    cells = result.tables[F.CELLS_FILE]
    assert (cells["stars"] == "***").all()
    assert (tmp_path / "run" / REPORT).read_text().count("<img") == 1
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["reference_levels"] == {"family": "agentic", "category": "agency", "framing": "positive"}
    assert manifest["provenance"]["packages"]["torch"]
    assert len(pd.read_parquet(tmp_path / "run" / F.SCORES_FILE)) == 2 * 80 * len(KEYS)


def test_reward_scores_are_batched_without_padding_and_cached_by_model_fingerprint(reward_models, tmp_path):
    from crosstune.engine.cache import ResultCache
    from crosstune.probes.values.reward import load_reward_model, render_reply, score_texts

    rm = load_reward_model(str(reward_models["communal-rm"]))
    texts = [render_reply(rm, p.text, w) for p in select_prompts(KEYS[:2]) for w in ("love", "power", "a")]
    cache = ResultCache(tmp_path / "cache.sqlite")
    batched = score_texts(rm, texts, cache, batch_size=4)
    one_by_one = score_texts(rm, texts, None, batch_size=1)
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    rm.model.forward = lambda *a, **k: pytest.fail("scored again instead of reading the cache")
    np.testing.assert_array_equal(score_texts(rm, texts, cache), batched)


def test_reference_family_option_changes_the_contrast(reward_models, tmp_path):
    config = dict(reward_models=[str(reward_models["agentic-rm"]), str(reward_models["communal-rm"])],
                          rules=["family=^(agentic|communal)"], prompts=KEYS[1:5], permutations=99,
                          reference_family="communal", batch_size=64, out=tmp_path / "run")
    terms = list(probe_values(config).tables[F.MIXED_FILE]["term"])
    assert "family[T.agentic]" in terms


def test_a_design_too_small_for_the_mixed_model_gives_a_note_not_a_crash(tmp_path):
    paths = [_write_rewards(tmp_path, name, 0.0, i) for i, name in enumerate(["llama-1", "gemma-1"])]
    result = probe_values(dict(rewards=paths, rules=["family=^(llama|gemma)"], prompts=KEYS[::3],
                                       permutations=19, out=tmp_path / "run"))
    assert F.MIXED_FILE not in result.tables
    assert any(n.startswith("mixed model not fitted") for n in result.notes)


def test_a_multi_output_head_is_read_at_the_output_index_given(reward_models, tmp_path):
    three = str(reward_models["three-outputs"])
    result = probe_values(dict(reward_models=[three], output_index=2, prompts=KEYS[:1],
                                       batch_size=64, out=tmp_path / "run"))
    assert result.manifest["models"][0]["output_index"] == 2
    assert any("one family only" in n for n in result.notes)
    with pytest.raises(CrosstuneError, match="--output-index 3 is out of range for a head with 3"):
        probe_values(dict(reward_models=[three], output_index=3, out=tmp_path / "run2"))


# --- the LM path on two tiny models with different tokenizers -----------------------------

def test_lm_path_scores_single_token_words_reports_dropped_ones_and_the_implicit_reward(tmp_path):
    chat = save_tiny_lm(tmp_path / "lm-chat", train_tokenizer(900), seed=0)
    plain = save_tiny_lm(tmp_path / "lm-plain", train_tokenizer(2000, extra=["kettle"] * 50, chat=False),
                         seed=1)
    lexicon = tmp_path / "lex.csv"
    lexicon.write_text("Category,token_decoded\nagency,power\nagency,success\nagency,xylophonequartz\n"
                       "communion,love\ncommunion,family\n")
    config = dict(models=[str(chat), str(plain)], lexicon=lexicon, prompts=KEYS, permutations=99,
                          implicit_prompts=["greatest_ever_one", "worst_ever_one"], top=5,
                          out=tmp_path / "run")
    result = probe_values(config)
    dropped = result.tables[F.DROPPED_FILE]
    assert set(dropped["word"]) == {"xylophonequartz"}
    assert dropped["reason"].str.startswith("multi-token").all()
    assert any("1 of 5 lexicon words dropped" in n for n in result.notes)
    assert set(result.tables[F.SCORES_FILE]["word"]) == {"power", "success", "love", "family"}
    assert (result.tables[F.SCORES_FILE]["score"] < 0).all()
    assert F.ANOVA_FILE in result.tables
    top = result.tables[F.IMPLICIT_TOP_FILE]
    assert set(top["prompt"]) == {"greatest_ever_one", "worst_ever_one"}
    assert len(top) == 2 * 2 * 5
    every = pd.read_parquet(tmp_path / "run" / F.IMPLICIT_FILE)
    assert np.allclose(every["mwlr"], mwlr(every["logp_1"].to_numpy(), every["logp_2"].to_numpy()))


# --- external scores -----------------------------------------------------------------------

def _write_rewards(folder, name, communion_bonus, seed):
    rng = np.random.default_rng(seed)
    words = demo_words()
    responses = [*words["agency"], *words["communion"], " love", "unrelated"]
    frame = pd.DataFrame({"response": responses})
    for key in KEYS:
        frame[key] = rng.normal(size=len(responses)) + communion_bonus * np.isin(
            responses, words["communion"])
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    return path


def test_external_scores_are_ranked_and_tested_like_model_scores(tmp_path):
    paths = [_write_rewards(tmp_path, f"llama-{i}", 0.0, i) for i in range(2)] + \
            [_write_rewards(tmp_path, f"gemma-{i}", 3.0, 10 + i) for i in range(2)]
    result = probe_values(dict(rewards=paths, rules=["family=^(llama|gemma)"], permutations=99,
                                       out=tmp_path / "run"))
    means = result.tables[F.MEAN_OF_MEDIANS_FILE].set_index(["framing", "category"])
    assert (means.xs("communion", level="category")["gemma - llama"] < -15).all()
    # " love" strips to "love": the higher of the two scores is kept, so 80 words per prompt
    assert result.tables[F.SCORES_FILE].groupby(["model", "prompt"]).size().eq(80).all()
    assert result.manifest["models"][0]["sha256"]


def test_labels_file_maps_rewards_files_to_model_names_and_families(tmp_path):
    paths = [_write_rewards(tmp_path, n, 0.0, i) for i, n in enumerate(["rm_a", "rm_b"])]
    labels = tmp_path / "labels.csv"
    labels.write_text("model,file,family\nAlpha-RM,rm_a.csv,llama\nBeta-RM,rm_b.csv,gemma\n")
    result = probe_values(dict(rewards=paths, labels=labels, permutations=19, out=tmp_path / "run"))
    assert result.manifest["families"] == {"Alpha-RM": "llama", "Beta-RM": "gemma"}


# --- bad input: one clear line, exit code 2 -------------------------------------------------

def _cli(capsys, monkeypatch, *args) -> tuple[int, str]:
    """`crosstune probe values ARGS` through the real entry point, in this process."""
    from crosstune.cli import main

    monkeypatch.setattr(sys, "argv", ["crosstune", "probe", "values", *args])
    capsys.readouterr()  # drop what earlier steps printed (progress bars of model saving)
    with pytest.raises(SystemExit) as stopped:
        main()
    return stopped.value.code, capsys.readouterr().err


def test_bad_inputs_exit_2_with_one_line_each(tmp_path, reward_models, capsys, monkeypatch):
    no_response = tmp_path / "a.csv"
    no_response.write_text("text,best_ever_one\nlove,1\n")
    non_numeric = tmp_path / "b.csv"
    non_numeric.write_text("response,best_ever_one\nlove,1\npower,high\n")
    good = _write_rewards(tmp_path, "rm-x", 0.0, 0)
    odd_lexicon = tmp_path / "odd.csv"
    odd_lexicon.write_text("Category,token_decoded\nagency,xylophonequartzish\ncommunion,zzqqxxjj\n")
    tiny = save_tiny_lm(tmp_path / "tiny-lm", train_tokenizer(500), seed=0)
    cases = [
        (["--model", str(tiny), "--lexicon", str(odd_lexicon), "--prompt", "best_ever_one"],
         "no lexicon word is a single token of tiny-lm: all 2 dropped (2 multi-token)"),
        (["--rewards", str(good), "--prompt", "nicest_ever_one"],
         "prompt key 'nicest_ever_one' does not follow"),
        (["--reward-model", str(reward_models["three-outputs"])], "head with 3 outputs; say which one"),
        (["--rewards", str(no_response)], "has no 'response' column"),
        (["--rewards", str(non_numeric)], "non-numeric score 'high' in column 'best_ever_one', row 3"),
        (["--rewards", str(good), "--rule", "family=^gemma"], "matches no part of model name 'rm-x'"),
    ]
    for args, message in cases:
        code, stderr = _cli(capsys, monkeypatch, *args, "--out", str(tmp_path / "out"))
        assert code == 2, (args, stderr[-2000:])
        assert message in stderr, (message, stderr)
        assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr


@pytest.mark.slow
def test_demo_on_the_embedded_models_runs_the_lm_and_implicit_reward_paths(tmp_path, isolated_home):
    if USER_HOME:  # reuse the converted models; keep the result cache in the test's home
        isolated_home.mkdir(parents=True, exist_ok=True)
        (isolated_home / "models").symlink_to(Path(USER_HOME) / "models")
    result = probe_values(dict(models=["gemma-3-270m", "smollm2-135m-instruct"],
                                       rules=["family=^(gemma|smollm)"], prompts=KEYS, permutations=199,
                                       out=tmp_path / "demo"))
    assert result.manifest["family_order"] == ["gemma", "smollm"]
    assert result.tables[F.SCORES_FILE]["word"].nunique() > 20
    shared = pd.read_parquet(tmp_path / "demo" / F.IMPLICIT_FILE)
    assert len(shared) > 10_000
    assert {"mixed_model.csv", "cell_tests.csv", "lm_anova.csv"} <= set(result.tables)
