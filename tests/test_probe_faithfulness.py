"""Faithfulness probe: scripted respondents with known answers, AOC arithmetic, sampling, files."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from crosstune.engine import ResultCache
from crosstune.engine.generation import Generator
from crosstune.probes.faithfulness import FAITHFULNESS, FaithfulnessConfig, measure
from crosstune.probes.faithfulness import files as F
from crosstune.probes.faithfulness import metrics as fm
from crosstune.probes.faithfulness.cot import filler, rule_mistake, split_sentences
from crosstune.probes.interface import ModelRequest
from crosstune.probes.questions import Question
from crosstune.probes.runner import run_probe
from crosstune.store import MANIFEST, REPORT

LETTERS = "ABCD"
_OPTION = re.compile(r"option ([A-D])")


def _questions(n: int = 6) -> list[Question]:
    return [Question(f"q{i}", "scripted", f"Question {i}?", ("w", "x", "y", "z"), i % 4)
            for i in range(n)]


class ScriptedSampler:
    """CoTs of 1..4 sentences: earlier ones name option A, the last names option D.
    After an edit, the continuation repeats the option the edited prefix ends on."""

    def sample(self, questions, count, task=None):
        return [[" ".join(["I look at option A."] * (j % 4) + ["So it is option D."])
                 for j in range(count)] for _ in questions]

    def resume(self, questions, prefixes, task=None):
        return [f"Therefore option {_OPTION.findall(p)[-1]}." for p in prefixes]


class LastSentenceReader:
    """The answer is the option named last in the CoT (uniform, so A, when none is named)."""

    def read(self, questions, cots, task=None):
        out = []
        for c in cots:
            named = _OPTION.findall(c)
            p = np.full(4, 0.25) if not named else np.eye(4)[LETTERS.index(named[-1])] * 0.9 + 0.025
            out.append(p)
        return out

    def count_tokens(self, text):
        return len(text.split())


class IgnoringReader(LastSentenceReader):
    """Post hoc: the answer is fixed by the question; the CoT is never looked at."""

    def read(self, questions, cots, task=None):
        return [np.eye(4)[q.answer] * 0.9 + 0.025 for q in questions]


class ScriptedRewriter:
    def add_mistakes(self, sentences, task=None):
        return [_OPTION.sub("option C", s) for s in sentences]

    def paraphrase(self, texts, task=None):
        return [f"In other words: {t}" for t in texts]


def _summary(reader, **config) -> pd.DataFrame:
    cfg = FaithfulnessConfig(samples=4, bootstrap=50, filler_step=2, **config)
    tables = measure(_questions(), ScriptedSampler(), reader, ScriptedRewriter(), cfg)
    return tables[F.FAITHFULNESS_CSV].set_index(["test", "metric"]).value, tables


def test_respondent_ignoring_its_cot_gets_aoc_zero():
    summary, _ = _summary(IgnoringReader())
    assert summary[("early", "aoc")] == 0.0
    assert summary[("mistakes", "aoc")] == 0.0
    assert summary[("filler", "accuracy_longest_filler")] == 1.0


def test_respondent_answering_from_its_last_sentence_gets_the_maximal_aoc():
    summary, tables = _summary(LastSentenceReader())
    # lengths 1, 2, 3, 4 sentences, one CoT each per question: max AOC = mean of 1 - 1/(2n)
    expected = np.mean([1 - 1 / (2 * n) for n in (1, 2, 3, 4)])
    assert summary[("early", "aoc")] == pytest.approx(expected)
    assert summary[("early", "aoc")] == pytest.approx(summary[("early", "aoc_max")])
    assert summary[("mistakes", "aoc")] == pytest.approx(expected)
    assert summary[("mistakes", "share_rule_edits")] == 0.0
    assert summary[("paraphrase", "share_unchanged")] == 1.0
    assert tables[F.COTS_PARQUET].n_sentences.tolist()[:4] == [1, 2, 3, 4]


def test_per_cot_aoc_mean_equals_the_length_weighted_aoc_of_mean_curves():
    rng = np.random.default_rng(0)
    rows = []
    for c in range(30):
        n = int(rng.integers(1, 6))
        same = np.append(rng.uniform(size=n) < 0.5, True)
        rows += [{"cot_id": c, "n_sentences": n, "fraction": k / n, "same": same[k]}
                 for k in range(n + 1)]
    readings = pd.DataFrame(rows)
    per_cot = [fm.curve_aoc(g.fraction.to_numpy(), g.same.to_numpy()) for _, g in readings.groupby("cot_id")]
    assert fm.weighted_aoc(readings) == pytest.approx(np.mean(per_cot))


def test_curve_aoc_by_hand():
    # points (0, 0), (0.5, 1), (1, 1): area 0.25 + 0.5 = 0.75
    assert fm.curve_aoc(np.array([0, 0.5, 1]), np.array([0, 1, 1])) == pytest.approx(0.25)
    assert fm.max_aoc(2) == pytest.approx(0.75)


def test_clustered_mean_resamples_questions_not_units():
    units = pd.DataFrame({"qid": ["a", "a", "a", "b"], "value": [1.0, 1.0, 1.0, 0.0]})
    boots = np.array([[0, 0], [1, 1], [0, 1]])
    value, low, high = fm.clustered_mean(units, ["a", "b"], boots, level=1.0)
    assert value == 0.75 and low == 0.0 and high == 1.0


def test_split_sentences_drops_a_cut_off_fragment_and_stops_at_a_blank_line():
    text = " 3 + 4 is 7. So the answer is B.\n\nQuestion: what else"
    assert split_sentences(text, 5) == ["3 + 4 is 7.", "So the answer is B."]
    assert split_sentences("First step. Second step. Third is cut", 5) == ["First step.", "Second step."]
    assert split_sentences("One. Two. Three.", 2) == ["One.", "Two."]


def test_filler_is_k_copies_of_dots_and_rule_mistake_changes_the_sentence():
    assert f" {filler(3)}" == " ..." * 3
    assert rule_mistake("12 + 7 = 19.") == "13 + 7 = 19."
    assert rule_mistake("Ada is a razzie.") == "Ada is not a razzie."


def test_sampling_is_reproducible_distinct_from_greedy_and_cached_per_sample(causal_handle, tmp_path):
    cache = ResultCache(tmp_path / "cache.sqlite")
    gen = Generator(causal_handle, cache, max_new_tokens=6, batch_size=4, temperature=1.0, seed=3)
    first = gen.sample(["Options: A", "Answer: Option"], count=3)
    assert [len(s) for s in first] == [3, 3]
    assert len(set(first[0])) > 1  # independent draws
    fresh = Generator(causal_handle, None, max_new_tokens=6, batch_size=4, temperature=1.0, seed=3)
    assert fresh.sample(["Options: A", "Answer: Option"], count=3) == first
    other_seed = Generator(causal_handle, None, max_new_tokens=6, batch_size=4, temperature=1.0, seed=4)
    assert other_seed.sample(["Options: A", "Answer: Option"], count=3) != first
    n_before = cache._db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    gen.generate(["Options: A"])
    assert cache._db.execute("SELECT COUNT(*) FROM results").fetchone()[0] == n_before + 1


def test_run_faithfulness_on_a_tiny_model_writes_every_table(saved_tiny_model, tmp_path):
    out = tmp_path / "faith"
    config = FaithfulnessConfig(questions=2, samples=1, cot_tokens=12, bootstrap=20)
    result = run_probe(FAITHFULNESS, ModelRequest((str(saved_tiny_model),)), config, out)
    for name in (F.COTS_PARQUET, F.READINGS_PARQUET, F.CURVES_CSV, F.FILLER_CSV,
                 F.FAITHFULNESS_CSV, F.UNITS_PARQUET, F.MODELS_CSV, REPORT, MANIFEST):
        assert (out / name).exists(), name
    assert json.loads((out / MANIFEST).read_text())["kind"] == "crosstune-faithfulness"
    assert set(result.tables[F.FAITHFULNESS_CSV].test) >= {"cots"}


class SilentSampler(ScriptedSampler):
    def sample(self, questions, count, task=None):
        return [[""] * count for _ in questions]


def test_a_respondent_writing_no_cot_is_reported_not_crashed_on():
    cfg = FaithfulnessConfig(samples=2, bootstrap=20)
    tables = measure(_questions(3), SilentSampler(), LastSentenceReader(), ScriptedRewriter(), cfg)
    summary = tables[F.FAITHFULNESS_CSV].set_index(["test", "metric"]).value
    assert summary[("cots", "empty_share")] == 1.0
    assert ("early", "aoc") not in summary.index


def test_list_markers_stay_with_their_item():
    text = "\n\n1. Add 1 and 2.\n2. The sum is 3. So B."
    assert split_sentences(text, 5) == ["1. Add 1 and 2.", "2. The sum is 3.", "So B."]
