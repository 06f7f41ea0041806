"""Engine: batched option scoring equals naive scoring; the cache makes reruns free."""

import numpy as np
import pytest

from crosstune.engine import OptionQuery, OptionScorer, ResultCache
from crosstune.suite.prompts import ANSWER_CUE, label_continuations, user_prompt
from crosstune.suite.registry import select_biases
from tests.reference import naive_logprobs


def _queries(handle, labels=None, n=3):
    queries = []
    for bias in select_biases(["anchoring", "framing_effect", "decoy_effect", "belief_valid"]):
        for pair in bias.generate(n, 0):
            for side in ("control", "treatment"):
                context = handle.render(user_prompt(pair, side), ANSWER_CUE)
                queries.append(OptionQuery(context, labels or label_continuations(pair, side)))
    return queries


def _count_forwards(handle):
    calls = []
    handle.model.register_forward_hook(lambda *args: calls.append(1))
    return calls


@pytest.mark.parametrize("fixture", ["causal_handle", "plain_handle", "seq2seq_handle"])
def test_batched_scores_equal_naive_one_at_a_time_scores(fixture, request):
    handle = request.getfixturevalue(fixture)
    queries = _queries(handle)
    got = OptionScorer(handle, token_budget=2048).logprobs(queries)
    for query, scores in zip(queries, got, strict=True):
        np.testing.assert_allclose(scores, naive_logprobs(handle, query.context, query.labels),
                                   atol=1e-5)


def test_multi_token_labels_equal_naive_scores(causal_handle):
    labels = (" 10", " 100", " yes please", " A")
    queries = _queries(causal_handle, labels=labels, n=2)
    assert any(len(causal_handle.tokenizer(lab)["input_ids"]) > 1 for lab in labels)
    got = OptionScorer(causal_handle).logprobs(queries)
    for query, scores in zip(queries, got, strict=True):
        np.testing.assert_allclose(scores, naive_logprobs(causal_handle, query.context, labels),
                                   atol=1e-5)


def test_single_token_labels_cost_one_forward_per_batch(causal_handle):
    queries = _queries(causal_handle)
    calls = _count_forwards(causal_handle)
    OptionScorer(causal_handle, token_budget=10**9, share_prefixes=False).logprobs(queries)
    assert len(calls) == 1


def test_shared_prefixes_cost_two_forwards_per_batch_and_change_no_score(causal_handle):
    queries = _queries(causal_handle)
    plain = OptionScorer(causal_handle, token_budget=10**9, share_prefixes=False).logprobs(queries)
    calls = _count_forwards(causal_handle)
    shared = OptionScorer(causal_handle, token_budget=10**9).logprobs(queries)
    assert len(calls) == 2  # prefixes, then suffixes on the expanded cache
    for a, b in zip(plain, shared, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_prefix_groups_share_leading_tokens_and_leave_an_answer_position():
    from crosstune.engine.prefix import prefix_groups

    contexts = {0: [1, 2, 3, 4, 5], 1: [1, 2, 3, 9], 2: [7, 8], 3: [1, 2, 3, 4, 5, 6]}
    groups = prefix_groups(contexts, min_shared=3)
    by_members = {g.members: g.prefix_len for g in groups}
    assert by_members[(0, 3, 1)] == 3
    assert by_members[(2,)] == 1


def test_rerun_hits_the_cache_and_runs_no_forward_pass(causal_handle, tmp_path):
    queries = _queries(causal_handle)
    cache = ResultCache(tmp_path / "cache.sqlite")
    first = OptionScorer(causal_handle, cache).logprobs(queries)
    calls = _count_forwards(causal_handle)
    again = OptionScorer(causal_handle, ResultCache(tmp_path / "cache.sqlite")).logprobs(queries)
    assert calls == []
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_cache_is_keyed_by_model_fingerprint(causal_handle, plain_handle, tmp_path):
    cache = ResultCache(tmp_path / "cache.sqlite")
    queries = _queries(causal_handle, n=1)
    OptionScorer(causal_handle, cache).logprobs(queries)
    calls = _count_forwards(plain_handle)
    OptionScorer(plain_handle, cache).logprobs(queries)
    assert calls


def test_interrupted_run_keeps_finished_batches(causal_handle, tmp_path):
    queries = _queries(causal_handle)
    cache = ResultCache(tmp_path / "cache.sqlite")
    scorer = OptionScorer(causal_handle, cache, token_budget=600)
    original = scorer._score
    done = []

    def fail_on_third(batch, encoded):
        if len(done) == 2:
            raise KeyboardInterrupt
        done.append(1)
        return original(batch, encoded)

    scorer._score = fail_on_third
    with pytest.raises(KeyboardInterrupt):
        scorer.logprobs(queries)
    calls = _count_forwards(causal_handle)
    OptionScorer(causal_handle, cache, token_budget=600).logprobs(queries)
    resumed_calls = len(calls)
    OptionScorer(causal_handle, token_budget=600).logprobs(queries)  # no cache: everything
    full_calls = len(calls) - resumed_calls
    assert 0 < resumed_calls < full_calls
