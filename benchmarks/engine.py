"""Engine benchmark: the counterbalanced suite through the token trie, in one run per model.

Run: PYTHONPATH=src python3 benchmarks/engine.py --model smollm2-135m-instruct --bf16 \\
         --out benchmarks/results/smollm2-135m-instruct.json          (needs the `bench` extra)

Items: every pair of every bias (`--pairs` per bias), both sides; counterbalanced = each pair
also with its options in the other order (four prompts per pair). Measures, on one loaded
model and in one process:
  (a) today's single-order suite through the engine before the trie (benchmarks/baseline.py),
  (b) the counterbalanced suite through the trie; the target is time(b) / time(a) <= 1.3,
  (c) lm-evaluation-harness `HFLM` log-likelihood on the same token ids (a subset of pairs),
  (d) crosstune's Generator (`--method generate`) on a subset,
and tokens in the prompts against tokens computed, FLOPs counted by hand (2 x linear weights x
tokens run + 2 x head x logit rows + 4 x heads x head_dim x layers x query-key pairs) and
checked against torch's FlopCounterMode, the fp32 matmul peak (best of many repeats over
several sizes, at the start and the end), the machine's load average before and after, and,
with --bf16, bf16 matmuls against fp32: speed (the two alternating on the peer subset) and the
largest change of any option log-probability and any bias's linear score over all of (b).
`--quick`: a tiny random model, counts only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from baseline import FlatPrefixScorer  # benchmarks/baseline.py: the script's folder is on sys.path
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from crosstune.cpu import cpu_has_amx
from crosstune.engine import OptionQuery, OptionScorer
from crosstune.engine.generation import Generator
from crosstune.engine.precision import matmul_inputs
from crosstune.evaluate import presentations, score_pairs
from crosstune.models import ModelHandle, load_model
from crosstune.respondents.base import Answer, Prompt
from crosstune.respondents.model import answer_from_logprobs
from crosstune.suite.prompts import ANSWER_CUE, label_continuations, user_prompt
from crosstune.suite.registry import all_biases
from crosstune.suite.types import TestPair

SIDES = ("control", "treatment")
Item = Prompt  # a pair, a side and an option order


def shown(pairs: list[TestPair], counterbalanced: bool) -> list[TestPair]:
    """The pairs with both option orders (counterbalanced) or as listed only (today's cost)."""
    return [dataclasses.replace(p, orders=(False, True) if counterbalanced else (False,))
            for p in pairs]


def items_for(pairs: list[TestPair], counterbalanced: bool) -> list[Item]:
    """Every prompt, in the order the evaluation asks them (evaluate.presentations)."""
    return presentations(shown(pairs, counterbalanced))


def queries_for(handle: ModelHandle, items: list[Item]) -> list[OptionQuery]:
    return [OptionQuery(handle.render(user_prompt(p.pair, p.side, p.reversed_order), ANSWER_CUE),
                        label_continuations(p.pair, p.side)) for p in items]


class _Replay:
    """A respondent that hands back log-probs already computed, so scores come from the
    evaluation's own scoring path."""

    method = "replay"

    def __init__(self, logps: list[np.ndarray]):
        self.logps = logps

    def describe(self) -> dict[str, Any]:
        return {"name": "replay"}

    def answer(self, prompts, progress=None) -> list[Answer]:
        return [answer_from_logprobs(lp, "") for lp in self.logps]


def subset(pairs: list[TestPair], n: int) -> list[TestPair]:
    """n pairs spread evenly over the suite (every bias family represented)."""
    step = max(1, len(pairs) // max(1, n))
    return pairs[::step][:n]


def timed(run: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = run()
    return out, time.perf_counter() - start


def load_average() -> dict[str, Any]:
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    return {"loadavg_1_5_15": list(os.getloadavg()), "uptime": uptime}


def matmul_peak(seconds: float = 1.5, bf16: bool = False) -> dict[str, float]:
    """Best GFLOP/s over several fp32 GEMM sizes, each repeated until `seconds` (at most 200)."""
    shapes = [(512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048), (2048, 576, 1536),
              (2048, 640, 2048)]
    out: dict[str, float] = {}
    with matmul_inputs("bf16" if bf16 else "ieee"):
        for m, k, n in shapes:
            a, b = torch.randn(m, k), torch.randn(k, n)
            torch.mm(a, b)
            best, spent, reps = float("inf"), 0.0, 0
            while spent < seconds and reps < 200:
                start = time.perf_counter()
                torch.mm(a, b)
                took = time.perf_counter() - start
                best, spent, reps = min(best, took), spent + took, reps + 1
            out[f"{m}x{k}x{n}"] = 2 * m * k * n / best / 1e9
    out["best"] = max(out.values())
    return out


def flop_terms(handle: ModelHandle) -> dict[str, int]:
    """Per-unit FLOPs: a token through every linear layer, a head row, a query-key pair."""
    model = handle.model
    head = model.get_output_embeddings()
    linear = sum(m.weight.numel() for m in model.modules()
                 if isinstance(m, torch.nn.Linear) and m is not head)
    config = model.config
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return {"per_token": 2 * linear, "per_logit_row": 2 * head.weight.numel(),
            "per_attention_pair": 4 * config.num_attention_heads * head_dim * config.num_hidden_layers}


def hand_flops(terms: dict[str, int], stats: dict[str, int]) -> int:
    return (terms["per_token"] * stats["padded_tokens"] + terms["per_logit_row"] * stats["logit_rows"]
            + terms["per_attention_pair"] * stats["attention_pairs"])


def counted_flops(run: Callable[[], Any]) -> int:
    """torch's FlopCounterMode, taught the CPU flash-attention op it does not know."""

    def cpu_flash(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
        return sdpa_flop_count(query_shape, key_shape, value_shape)

    mapping = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: cpu_flash}
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        run()
    return counter.get_total_flops()


def plan_counts(handle: ModelHandle, queries: list[OptionQuery]) -> dict[str, dict[str, int]]:
    """What each engine would run on `queries` (tokens, FLOPs), from its plan alone."""
    trie = OptionScorer(handle)
    encoded = {i: trie._encode(q) for i, q in enumerate(queries)}
    _, _, _, batches = trie.plan_trie(list(encoded), encoded)
    for b in batches:
        stem, rows, width = len(b.stem), len(b.rows), b.width
        if stem:
            trie._count(stem, stem * stem, 1, stem)
        trie._count(sum(len(r.nodes) for r in b.rows), rows * width * (stem + width), rows * b.reads,
                    rows * width)
    flat = FlatPrefixScorer(handle)
    for batch in flat.plan(encoded):
        flat.count(batch, encoded)
    terms = flop_terms(handle)
    out = {}
    for name, engine in (("trie", trie), ("flat_prefix_groups", flat)):
        engine.stats["prompt_tokens"] = sum(len(e.context) for e in encoded.values())
        out[name] = {**engine.stats, "hand_flops": hand_flops(terms, engine.stats)}
    return out


def plan_only(handle: ModelHandle, pairs_per_bias: int, seed: int) -> dict[str, Any]:
    """Token counts of both engines on both item sets at `pairs_per_bias`, without running."""
    pairs = [p for b in all_biases() for p in b.generate(pairs_per_bias, seed)]
    out: dict[str, Any] = {"pairs_per_bias": pairs_per_bias}
    for name, balanced in (("single_order", False), ("counterbalanced", True)):
        out[name] = plan_counts(handle, queries_for(handle, items_for(pairs, balanced)))
    new, old = out["counterbalanced"]["trie"], out["single_order"]["flat_prefix_groups"]
    out["padded_token_ratio_b_over_a"] = new["padded_tokens"] / old["padded_tokens"]
    out["flop_ratio_b_over_a"] = new["hand_flops"] / old["hand_flops"]
    return out


def lm_eval_logprobs(handle: ModelHandle, queries: list[OptionQuery], batch_size: int
                     ) -> list[np.ndarray]:
    """HFLM's log-likelihood on crosstune's own token ids (its logits cache on, as by default)."""
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=handle.model, tokenizer=handle.tokenizer, device="cpu",
              batch_size=batch_size, add_bos_token=handle.add_special_tokens)
    scorer = OptionScorer(handle)
    requests = []
    for q in queries:
        e = scorer._encode(q)
        requests += [((q.context, label), e.context, list(cont))
                     for label, cont in zip(q.labels, e.continuations, strict=True)]
    flat = iter(score for score, _ in lm._loglikelihood_tokens(requests, disable_tqdm=True))
    return [np.array([next(flat) for _ in q.labels]) for q in queries]


def expected_scores(items: list[Item], logps: list[np.ndarray]) -> dict[str, float]:
    """Per-bias mean expected-ratio score (the default metric) of these log-probs."""
    pairs = list(dict.fromkeys(item.pair for item in items))
    table, _ = score_pairs(_Replay(logps), pairs, "expected")
    return table.groupby("bias")["score_expected"].mean().to_dict()


def max_abs(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b, strict=True))


def tiny_handle() -> ModelHandle:
    """A random 2-layer Llama with a tokenizer trained here on the suite's text (no download)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    texts = [user_prompt(p, s) for b in all_biases() for p in b.generate(2, 0) for s in SIDES]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts + [f"Answer: Option {c}" for c in "ABCDEFGHIJK"] * 20,
                            trainers.BpeTrainer(vocab_size=2000, special_tokens=["<pad>", "<s>", "</s>",
                                                                                 "<unk>"],
                                                initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>", unk_token="<unk>")
    fast.chat_template = ("<|system|>\nYou are a careful assistant who answers with one letter.\n"
                          "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
                          "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(fast), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=2048, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return ModelHandle("tiny-llama", LlamaForCausalLM(config).eval(), fast, "causal", "chat", "config")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct", help="any crosstune model spec")
    parser.add_argument("--pairs", type=int, default=20, help="pairs per bias (the eval default: 20)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reps", type=int, default=1, help="timed repetitions of (a) and (b); best counts")
    parser.add_argument("--peer-pairs", type=int, default=34, help="pairs for lm-eval and the FLOP check")
    parser.add_argument("--generate-pairs", type=int, default=8, help="pairs for --method generate")
    parser.add_argument("--peer-batch-size", type=int, default=16)
    parser.add_argument("--bf16", action="store_true", help="also run (b) with bf16 matmuls")
    parser.add_argument("--quick", action="store_true", help="tiny random model, 1 pair per bias")
    parser.add_argument("--plan-pairs", type=int, default=20,
                        help="pairs per bias for the token counts from the plans alone")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    if args.quick:
        args.pairs, args.peer_pairs, args.generate_pairs, args.plan_pairs = 1, 6, 2, 1

    load_before = load_average()
    handle = tiny_handle() if args.quick else load_model(args.model, device="cpu")
    pairs = [p for b in all_biases() for p in b.generate(args.pairs, args.seed)]
    single, balanced = items_for(pairs, False), items_for(pairs, True)
    q_single, q_balanced = queries_for(handle, single), queries_for(handle, balanced)
    peak_start = matmul_peak()

    # warm-up on a few pairs, then (a) and (b) alternating
    warm = queries_for(handle, items_for(pairs[:2], True))
    FlatPrefixScorer(handle).logprobs(warm)
    OptionScorer(handle).logprobs(warm)
    times: dict[str, list[float]] = {"a_single_order_flat": [], "b_counterbalanced_trie": []}
    for _ in range(args.reps):
        flat = FlatPrefixScorer(handle)
        got_a, t = timed(lambda flat=flat: flat.logprobs(q_single))
        times["a_single_order_flat"].append(t)
        trie = OptionScorer(handle)
        got_b, t = timed(lambda trie=trie: trie.logprobs(q_balanced))
        times["b_counterbalanced_trie"].append(t)
    best = {k: min(v) for k, v in times.items()}
    # presentations: per pair control listed, control reversed, treatment listed, treatment reversed
    as_listed = [got_b[4 * (k // 2) + 2 * (k % 2)] for k in range(len(q_single))]

    terms = flop_terms(handle)
    flops = {"a": hand_flops(terms, flat.stats), "b": hand_flops(terms, trie.stats)}

    # (c) lm-eval and the FLOP check on the same subset; (d) generation on a smaller one
    peer_items = items_for(subset(pairs, args.peer_pairs), True)
    q_peer = queries_for(handle, peer_items)
    peer_trie = OptionScorer(handle)
    ours_peer, t_ours_peer = timed(lambda: peer_trie.logprobs(q_peer))
    theirs, t_lm_eval = timed(lambda: lm_eval_logprobs(handle, q_peer, args.peer_batch_size))
    check = OptionScorer(handle)
    counted = counted_flops(lambda: check.logprobs(q_peer))
    gen_items = items_for(subset(pairs, args.generate_pairs), True)
    q_gen = queries_for(handle, gen_items)
    _, t_ours_gen = timed(lambda: OptionScorer(handle).logprobs(q_gen))
    _, t_generate = timed(lambda: Generator(handle).generate([q.context for q in q_gen]))

    peak_end = matmul_peak()
    peak = max(peak_start["best"], peak_end["best"])
    figures: dict[str, Any] = {
        "model": "tiny-llama" if args.quick else args.model, "pairs_per_bias": args.pairs,
        "seed": args.seed, "threads": torch.get_num_threads(), "torch": torch.__version__,
        "cpu": {"processor": platform.processor() or platform.machine(), "amx": cpu_has_amx(),
                "capability": torch.backends.cpu.get_cpu_capability()},
        "load_before": load_before,
        "items": {"a_single_order": len(q_single), "b_counterbalanced": len(q_balanced)},
        "tokens": {"a_single_order_flat": flat.stats, "b_counterbalanced_trie": trie.stats,
                   "computed_ratio_b_over_a": trie.stats["padded_tokens"] / flat.stats["padded_tokens"]},
        "plan_only": plan_only(handle, args.plan_pairs, args.seed),
        "seconds": times,
        "items_per_s": {"a_single_order_flat": len(q_single) / best["a_single_order_flat"],
                        "b_counterbalanced_trie": len(q_balanced) / best["b_counterbalanced_trie"]},
        "time_ratio_b_over_a": best["b_counterbalanced_trie"] / best["a_single_order_flat"],
        "max_abs_logprob_diff_b_vs_a": max_abs(as_listed, got_a),
        "lm_eval": {"items": len(q_peer), "seconds": t_lm_eval, "crosstune_seconds": t_ours_peer,
                    "items_per_s": len(q_peer) / t_lm_eval,
                    "crosstune_items_per_s": len(q_peer) / t_ours_peer,
                    "speedup": t_lm_eval / t_ours_peer, "batch_size": args.peer_batch_size,
                    "max_abs_logprob_diff": max_abs(ours_peer, theirs)},
        "generate": {"items": len(q_gen), "seconds": t_generate, "crosstune_seconds": t_ours_gen,
                     "items_per_s": len(q_gen) / t_generate,
                     "crosstune_items_per_s": len(q_gen) / t_ours_gen,
                     "speedup": t_generate / t_ours_gen, "max_new_tokens": Generator(handle).max_new_tokens},
        "flops": {"terms": terms, "hand_a": flops["a"], "hand_b": flops["b"],
                  "check_subset": {"hand": hand_flops(terms, check.stats), "flop_counter": counted,
                                   "hand_over_counter": hand_flops(terms, check.stats) / counted}},
        "gflops": {"a": flops["a"] / best["a_single_order_flat"] / 1e9,
                   "b": flops["b"] / best["b_counterbalanced_trie"] / 1e9,
                   "matmul_peak_start": peak_start, "matmul_peak_end": peak_end, "matmul_peak": peak,
                   "share_of_peak_a": flops["a"] / best["a_single_order_flat"] / 1e9 / peak,
                   "share_of_peak_b": flops["b"] / best["b_counterbalanced_trie"] / 1e9 / peak},
    }
    if args.bf16:
        figures["bf16"] = bf16_figures(handle, balanced, q_balanced, got_b,
                                       best["b_counterbalanced_trie"], q_peer, args.reps)
    figures["load_after"] = load_average()
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


def bf16_figures(handle: ModelHandle, items: list[Item], queries: list[OptionQuery],
                 fp32: list[np.ndarray], fp32_seconds: float, peer: list[OptionQuery], reps: int
                 ) -> dict[str, Any]:
    """bf16 matmuls: changes over all of (b); speed fp32 vs bf16 alternating on the peer subset."""
    bf16_handle = dataclasses.replace(handle, compute_dtype="bfloat16")
    got, seconds = timed(lambda: OptionScorer(bf16_handle).logprobs(queries))
    pace: dict[str, list[float]] = {"float32": [], "bfloat16": []}
    for _ in range(max(reps, 3)):
        for name, h in (("float32", handle), ("bfloat16", bf16_handle)):
            pace[name].append(timed(lambda h=h: OptionScorer(h).logprobs(peer))[1])
    before, after = expected_scores(items, fp32), expected_scores(items, got)
    change = {b: abs(after[b] - before[b]) for b in before}
    worst = max(change, key=change.__getitem__)
    return {"amx": cpu_has_amx(), "peer_seconds": pace,
            "speedup_vs_fp32": min(pace["float32"]) / min(pace["bfloat16"]),
            "full_b_seconds": seconds, "full_b_speedup_vs_fp32_run": fp32_seconds / seconds,
            "max_abs_logprob_change": max_abs(fp32, got),
            "max_abs_prob_change": max_abs([np.exp(x) for x in fp32], [np.exp(x) for x in got]),
            "max_abs_linear_score_change": change[worst], "worst_bias": worst,
            "expected_scores_fp32": before, "expected_scores_bf16": after,
            "matmul_peak_bf16": matmul_peak(bf16=True)}


if __name__ == "__main__":
    main()
