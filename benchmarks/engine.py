"""Engine benchmark: crosstune's option scoring against lm-evaluation-harness, same items.

Run: python benchmarks/engine.py --model smollm2-135m-instruct   (needs the `bench` extra)

Both engines score the same contexts and label continuations (the bias suite's 7- and 11-option
items) with the same loaded model object, alternating, several repetitions. Reports items per
second and their ratio, the largest log-probability difference, crosstune's achieved GFLOP/s
(FLOPs counted by torch's FlopCounterMode) against this machine's fp32 matmul GFLOP/s measured
in the same run, and peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from crosstune.engine import OptionQuery, OptionScorer
from crosstune.models import ModelHandle, load_model
from crosstune.suite.prompts import ANSWER_CUE, label_continuations, user_prompt
from crosstune.suite.registry import all_biases

SEVEN_AND_ELEVEN = [b.name for b in all_biases() if b.n_options in (7, 11)]


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
    """Best-of fp32 GEMM throughput of this machine, the ceiling for our forward passes."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def tiny_handle() -> ModelHandle:
    """A small random Llama with SmolLM2's real tokenizer (so items tokenise realistically)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    real = load_model("smollm2-135m-instruct", device="cpu")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(real.tokenizer), hidden_size=128, intermediate_size=256,
                         num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2)
    return ModelHandle("tiny-llama", LlamaForCausalLM(config).eval(), real.tokenizer, "causal",
                       "chat", "config")


def build_queries(handle: ModelHandle, pairs: int, seed: int) -> list[OptionQuery]:
    queries = []
    for bias in all_biases():
        if bias.name not in SEVEN_AND_ELEVEN:
            continue
        for pair in bias.generate(pairs, seed):
            for side in ("control", "treatment"):
                queries.append(OptionQuery(handle.render(user_prompt(pair, side), ANSWER_CUE),
                                           label_continuations(pair, side)))
    return queries


def run_crosstune(handle: ModelHandle, queries: list[OptionQuery]) -> list[np.ndarray]:
    return OptionScorer(handle).logprobs(queries)


def run_lm_eval(lm, queries: list[OptionQuery]) -> list[np.ndarray]:
    from lm_eval.api.instance import Instance

    requests = [Instance("loglikelihood", {}, (q.context, label), i)
                for i, q in enumerate(queries) for label in q.labels]
    flat = iter(score for score, _ in lm.loglikelihood(requests, disable_tqdm=True))
    return [np.array([next(flat) for _ in q.labels]) for q in queries]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct",
                        help="'tiny' or any crosstune model spec")
    parser.add_argument("--pairs", type=int, default=2, help="pairs per bias (7/11-option ones)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--peer-batch-size", type=int, default=16)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()

    from lm_eval.models.huggingface import HFLM

    handle = tiny_handle() if args.model == "tiny" else load_model(args.model, device="cpu")
    queries = build_queries(handle, args.pairs, seed=0)
    peak_gflops = matmul_gflops()

    ours = run_crosstune(handle, queries)  # warm-up, and the memory figure before the peer runs
    rss_crosstune = peak_rss_gib()
    with FlopCounterMode(display=False) as counter:
        run_crosstune(handle, queries)
    flops = counter.get_total_flops()

    lm = HFLM(pretrained=handle.model, tokenizer=handle.tokenizer, device="cpu",
              batch_size=args.peer_batch_size, add_bos_token=handle.add_special_tokens)
    theirs = run_lm_eval(lm, queries)  # warm-up
    times: dict[str, list[float]] = {"crosstune": [], "lm-eval": []}
    for _ in range(args.reps):
        for name, run in (("crosstune", lambda: run_crosstune(handle, queries)),
                          ("lm-eval", lambda: run_lm_eval(lm, queries))):
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)

    best = {k: min(v) for k, v in times.items()}
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(ours, theirs, strict=True))
    figures = {
        "model": args.model, "items": len(queries),
        "options_per_item": sorted({len(q.labels) for q in queries}),
        "threads": torch.get_num_threads(),
        "crosstune_items_per_s": len(queries) / best["crosstune"],
        "lm_eval_items_per_s": len(queries) / best["lm-eval"],
        "speedup": best["lm-eval"] / best["crosstune"],
        "median_s": {k: statistics.median(v) for k, v in times.items()},
        "max_abs_logprob_diff": diff,
        "crosstune_gflops": flops / best["crosstune"] / 1e9,
        "matmul_gflops": peak_gflops,
        "share_of_matmul_peak": flops / best["crosstune"] / 1e9 / peak_gflops,
        "peak_rss_gib_crosstune": rss_crosstune,
        "peak_rss_gib_overall": peak_rss_gib(),
        "peer_batch_size": args.peer_batch_size,
    }
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
