"""Engine: trie-batched option scoring equals naive scoring; bf16 matmuls; the cache makes reruns free."""

import dataclasses

import numpy as np
import pytest
import torch

from crosstune.engine import OptionQuery, OptionScorer, ResultCache
from crosstune.evaluate import presentations
from crosstune.models.handle import ModelHandle
from crosstune.suite.prompts import ANSWER_CUE, label_continuations, user_prompt
from crosstune.suite.registry import select_biases
from tests.conftest import tiny_llama
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


def _counterbalanced(handle, biases=("anchoring", "framing_effect", "loss_aversion"), n=2):
    """Four prompts per pair: control/treatment x options as listed/reversed."""
    pairs = [pair for bias in select_biases(list(biases)) for pair in bias.generate(n, 0)]
    return [OptionQuery(handle.render(user_prompt(p.pair, p.side, p.reversed_order), ANSWER_CUE),
                        label_continuations(p.pair, p.side)) for p in presentations(pairs)]


def _assert_naive(handle, queries, got):
    for query, scores in zip(queries, got, strict=True):
        np.testing.assert_allclose(scores, naive_logprobs(handle, query.context, query.labels),
                                   atol=1e-5)


@pytest.mark.parametrize("row_limit", [64, 512])
def test_trie_scores_of_counterbalanced_pairs_equal_naive_scores(causal_handle, row_limit):
    queries = _counterbalanced(causal_handle)
    queries.append(OptionQuery("Completely unrelated text, nothing shared", (" A", " B")))
    queries.append(OptionQuery("Zebra", (" A", " B")))  # shares no token with the others
    queries.append(queries[0])  # a duplicate context
    scorer = OptionScorer(causal_handle, token_budget=1024, row_limit=row_limit)
    _assert_naive(causal_handle, queries, scorer.logprobs(queries))


def test_trie_runs_each_distinct_prefix_once_when_attention_is_free(causal_handle, monkeypatch):
    from crosstune.engine.tokens import encode_causal

    monkeypatch.setattr(OptionScorer, "_attention_weight", lambda self: 0.0)
    queries = _counterbalanced(causal_handle)
    contexts = [encode_causal(causal_handle.tokenizer, q.context, q.labels, False).context
                for q in queries]
    distinct = len({tuple(c[:k]) for c in contexts for k in range(1, len(c) + 1)})
    scorer = OptionScorer(causal_handle, token_budget=10**6, row_limit=10**6)
    scorer.logprobs(queries)
    assert scorer.stats["prompt_tokens"] == sum(map(len, contexts))
    assert scorer.stats["computed_tokens"] == distinct
    assert distinct < 0.7 * scorer.stats["prompt_tokens"]


def test_prefixes_shared_at_several_depths_cost_one_forward_each_and_equal_naive(causal_handle):
    head = "You are a careful assistant. Read the case and answer with one letter. " * 3
    contexts = [head + f"Case {c}: the {k} option. Answer: Option"
                for c in ("one", "two") for k in ("first", "second", "third")]
    queries = [OptionQuery(c, (" A", " B", " C")) for c in contexts]
    calls = _count_forwards(causal_handle)
    scorer = OptionScorer(causal_handle, token_budget=10**6, row_limit=10**6)
    got = scorer.logprobs(queries)
    assert len(calls) == 2  # the shared stem, then one row holding the whole trie below it
    _assert_naive(causal_handle, queries, got)


def test_multi_token_labels_go_through_the_trie_and_equal_naive_scores(causal_handle):
    labels = (" 10", " 100", " yes please", " A")
    queries = [OptionQuery(q.context, labels) for q in _counterbalanced(causal_handle, n=1)]
    scorer = OptionScorer(causal_handle, row_limit=128)
    assert scorer.packable
    _assert_naive(causal_handle, queries, scorer.logprobs(queries))


def test_unmaskable_models_fall_back_to_padded_batches_with_equal_scores(causal_handle, monkeypatch):
    monkeypatch.setattr(OptionScorer, "packable", property(lambda self: False))
    queries = _counterbalanced(causal_handle, n=1)
    queries += [OptionQuery(q.context, (" 10", " yes please")) for q in queries[:2]]
    _assert_naive(causal_handle, queries, OptionScorer(causal_handle).logprobs(queries))


def test_eager_attention_gets_an_additive_mask_and_equal_scores(tokenizer):
    model = tiny_llama(len(tokenizer))
    model.config._attn_implementation = "eager"
    handle = ModelHandle("tiny-eager", model, tokenizer, "causal", "chat", "config")
    queries = _counterbalanced(handle, n=1)
    _assert_naive(handle, queries, OptionScorer(handle).logprobs(queries))


def test_sliding_window_layers_see_only_their_window(tokenizer):
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    config = Gemma3TextConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                              num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1,
                              head_dim=8, sliding_window=16, max_position_embeddings=1024,
                              layer_types=["sliding_attention", "full_attention"], pad_token_id=0,
                              bos_token_id=1, eos_token_id=2)
    handle = ModelHandle("tiny-gemma", Gemma3ForCausalLM(config).eval(), tokenizer, "causal", "plain",
                         "config")
    queries = _counterbalanced(handle, n=1)
    assert min(len(q.context) for q in queries) > 4 * config.sliding_window
    _assert_naive(handle, queries, OptionScorer(handle, row_limit=256).logprobs(queries))


def test_scores_do_not_depend_on_query_order(causal_handle):
    torch.set_num_threads(1)
    queries = _counterbalanced(causal_handle)
    first = OptionScorer(causal_handle, token_budget=700, row_limit=256).logprobs(queries)
    order = np.random.default_rng(0).permutation(len(queries))
    again = OptionScorer(causal_handle, token_budget=700, row_limit=256).logprobs(
        [queries[i] for i in order])
    for k, i in enumerate(order):
        np.testing.assert_array_equal(again[k], first[i])


def test_trie_merges_equal_prefixes_and_keeps_reads_out_of_the_stem():
    from crosstune.engine.trie import Path, build_trie, plan, row_mask

    paths = [Path((1, 2, 3, 4, 5), (4,)), Path((1, 2, 3, 9), (3,)), Path((1, 2, 3, 4, 5, 6), (5,)),
             Path((1, 2, 3, 4, 5), (4,))]
    trie = build_trie(paths)
    assert len(trie.token) == 7  # 1 2 3 4 5 6 and 9
    assert trie.path_nodes[0] == trie.path_nodes[3]
    (batch,) = plan(trie, paths, token_budget=100, row_limit=100, attention_weight=0.0, min_stem=1)
    assert [trie.token[n] for n in batch.stem] == [1, 2, 3]
    (row,) = batch.rows
    layout = row.layout(batch.width)
    mask = row_mask(trie, layout, len(batch.stem))
    col = {trie.token[n]: c for c, n in enumerate(layout)}
    assert mask[col[6], :3].all() and mask[col[6], 3 + col[4]] and mask[col[6], 3 + col[5]]
    assert not mask[col[9], 3 + col[4]]  # siblings never see each other
    assert {trie.token[n] for n in layout[-row.n_reads:]} == {5, 6, 9}


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
    original = scorer._run
    done = []

    def fail_on_third(*args):
        if len(done) == 2:
            raise KeyboardInterrupt
        done.append(1)
        return original(*args)

    scorer._run = fail_on_third
    with pytest.raises(KeyboardInterrupt):
        scorer.logprobs(queries)
    calls = _count_forwards(causal_handle)
    OptionScorer(causal_handle, cache, token_budget=600).logprobs(queries)
    resumed_calls = len(calls)
    OptionScorer(causal_handle, token_budget=600).logprobs(queries)  # no cache: everything
    full_calls = len(calls) - resumed_calls
    assert 0 < resumed_calls < full_calls


def test_bf16_matmuls_stay_close_to_fp32_and_are_cached_apart(causal_handle, tmp_path):
    queries = _counterbalanced(causal_handle, n=1)
    cache = ResultCache(tmp_path / "cache.sqlite")
    fp32 = OptionScorer(causal_handle, cache).logprobs(queries)
    bf16_handle = dataclasses.replace(causal_handle, compute_dtype="bfloat16")
    assert bf16_handle.fingerprint == causal_handle.fingerprint  # same weights...
    calls = _count_forwards(causal_handle)
    bf16 = OptionScorer(bf16_handle, cache).logprobs(queries)
    assert calls  # ...but not served from the fp32 results
    change = max(float(np.max(np.abs(a - b))) for a, b in zip(fp32, bf16, strict=True))
    assert 0 < change < 0.05


def test_compute_precision_restores_matmul_precision_and_the_output_head(causal_handle):
    from crosstune.engine.precision import compute_precision

    model = causal_handle.model
    before = torch.backends.mkldnn.matmul.fp32_precision
    with compute_precision(model, "bfloat16"):
        assert torch.backends.mkldnn.matmul.fp32_precision == "bf16"
        assert "forward" in vars(model.get_output_embeddings())
    assert torch.backends.mkldnn.matmul.fp32_precision == before
    assert "forward" not in vars(model.get_output_embeddings())


def test_loading_with_bfloat16_on_cpu_keeps_fp32_weights(saved_tiny_model):
    from crosstune.models import load_model

    handle = load_model(str(saved_tiny_model), device="cpu", dtype="bfloat16")
    assert next(handle.model.parameters()).dtype == torch.float32
    assert handle.compute_dtype == "bfloat16"
    assert handle.describe()["compute_dtype"] == "bfloat16"


def test_bf16_without_amx_warns_that_it_is_slower(monkeypatch, caplog):
    from crosstune import cpu

    monkeypatch.setattr(cpu, "cpu_has_amx", lambda: False)
    with caplog.at_level("WARNING"):
        cpu.warn_if_slow("bfloat16")
    assert "no AMX" in caplog.text


def test_benchmark_quick_mode_counts_tokens_and_flops_consistently(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("lm_eval")
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "quick.json"
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    subprocess.run([sys.executable, str(root / "benchmarks" / "engine.py"), "--quick", "--bf16",
                    "--out", str(out)], check=True, env=env, capture_output=True, timeout=600)
    figures = json.loads(out.read_text())
    a, b = figures["tokens"]["a_single_order_flat"], figures["tokens"]["b_counterbalanced_trie"]
    assert figures["items"]["b_counterbalanced"] == 2 * figures["items"]["a_single_order"] == 4 * 34
    assert b["prompt_tokens"] == 2 * a["prompt_tokens"]  # reversing the options keeps lengths
    assert b["computed_tokens"] <= b["padded_tokens"] and b["computed_tokens"] < 0.7 * b["prompt_tokens"]
    plan = figures["plan_only"]
    assert {k: plan["counterbalanced"]["trie"][k] for k in b} == b
    assert {k: plan["single_order"]["flat_prefix_groups"][k] for k in a} == a
    assert figures["flops"]["check_subset"]["hand_over_counter"] == pytest.approx(1.0, abs=0.01)
    assert figures["max_abs_logprob_diff_b_vs_a"] < 1e-5
    assert figures["lm_eval"]["max_abs_logprob_diff"] < 1e-5
    assert 0 < figures["bf16"]["max_abs_logprob_change"] < 0.1
    assert figures["load_before"]["loadavg_1_5_15"] and figures["load_after"]["loadavg_1_5_15"]
