"""Served benchmark: the whole suite through a local llama.cpp server, in one run.

Run: PYTHONPATH=src:. python3 benchmarks/served.py --pairs 2 --out benchmarks/results/served-smollm2.json
     (needs llama-cpp-python[server]; see .ci/run for the build)

Serves the embedded SmolLM2 GGUF with `python -m llama_cpp.server --logits_all true` on
127.0.0.1 and measures, on the same prompts (every bias, `--pairs` per bias, both option orders):
  (a) crosstune's served path: next-token top-k log-probabilities (`--endpoint completions`,
      rendered with the model's chat template), prompts/s;
  (b) on the first `--compare-prompts` prompts, (a) again against `--method generate` through
      the same server (12 greedy tokens, parsed), prompts/s of each, timed in this run;
  (c) crosstune in-process on the dequantised fp32 weights of the same GGUF: largest
      probability difference and argmax agreement against (a), and the bias scores of both;
  (d) in-process time on the same prompts with torch given the server's `--threads`, and the
      ratio served / in-process (target: <= 1.3);
  (e) request order on a one-slot server (concurrency 1): the first `--order-prompts` prompts in
      presentation order (a pair's four prompts back to back, so llama.cpp's prefix reuse
      serves their shared scenario) against the same prompts shuffled;
the position preference (a) reports, and the load average before and after. Every request is
asked afresh (no result cache).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

import numpy as np
import torch

from crosstune.evaluate import EvalConfig, build_pairs, evaluate, presentations
from crosstune.models import load_model
from crosstune.models.embedded import EMBEDDED
from crosstune.respondents.model import ModelRespondent
from crosstune.served.backend import connect
from crosstune.served.settings import ServedSettings
from tests.llama_server import ALIAS, LlamaServer

NAME = "smollm2-135m-instruct"


def _load() -> dict[str, object]:
    return {"loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--compare-prompts", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="server threads = torch threads")
    parser.add_argument("--order-prompts", type=int, default=32)
    parser.add_argument("--tokenizer", default=NAME, help="a converted folder loads faster")
    parser.add_argument("--biases", help="comma-separated subset (default: the whole suite)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out: dict[str, object] = {"model": NAME, "pairs_per_bias": args.pairs, "load_before": _load()}
    config = EvalConfig(pairs=args.pairs, seed=0,
                        biases=args.biases.split(",") if args.biases else None)
    pairs = build_pairs(config)
    settings = ServedSettings(model=ALIAS, base_url="http://127.0.0.1:1/v1", tokenizer=args.tokenizer,
                              concurrency=args.concurrency)
    started = time.perf_counter()
    server = LlamaServer(EMBEDDED[NAME].locate(), threads=args.threads).start()
    out["server_start_s"] = round(time.perf_counter() - started, 2)
    settings = settings.model_copy(update={"base_url": server.url})
    try:
        served = ModelRespondent(connect(settings))
        subset = presentations(pairs)[:args.compare_prompts]
        started = time.perf_counter()
        served.answer(subset)
        subset_s = time.perf_counter() - started
        generating = ModelRespondent(connect(settings, generate=True))
        started = time.perf_counter()
        generated = generating.answer(subset)
        generate_s = time.perf_counter() - started
        started = time.perf_counter()
        result = evaluate(served, config, pairs=pairs)
        served_s = time.perf_counter() - started
        in_order = presentations(pairs)[:args.order_prompts]
        shuffled = list(in_order)
        random.Random(0).shuffle(shuffled)
        one_slot = settings.model_copy(update={"concurrency": 1})
        order: dict[str, float] = {}
        for label, items in (("shuffled_s", shuffled), ("pair_order_s", in_order)):
            asking = ModelRespondent(connect(one_slot))
            started = time.perf_counter()
            asking.answer(items)
            order[label] = round(time.perf_counter() - started, 2)
        order["shuffled_over_pair_order"] = round(order["shuffled_s"] / order["pair_order_s"], 2)
        out["request_order_one_slot"] = {"prompts": len(in_order), **order}
    finally:
        server.stop()
    n = len(presentations(pairs))
    out["served"] = {"prompts": n, "seconds": round(served_s, 2), "prompts_per_s": round(n / served_s, 2),
                     "position_preference": result.manifest.position_preference.model_dump(),
                     "mean_letter_mass": round(float(result.summary.valid_mass.mean()), 4),
                     "letters_outside_top_k": int(sum(sum(x) for side in ("control", "treatment")
                                                      for x in result.pairs[f"outside_top_k_{side}_orders"]))}
    m = len(subset)
    out["same_items"] = {
        "prompts": m, "logprob_s": round(subset_s, 2), "logprob_prompts_per_s": round(m / subset_s, 3),
        "generate_s": round(generate_s, 2), "generate_prompts_per_s": round(m / generate_s, 3),
        "generate_parse_failures": int(sum(np.isnan(a.probs).any() for a in generated))}
    out["logprob_vs_generate_items_per_s"] = round(generate_s / subset_s, 2)
    handle = load_model(NAME, device="cpu")
    started = time.perf_counter()
    local = evaluate(ModelRespondent(handle), config, pairs=pairs)
    local_s = time.perf_counter() - started
    a = result.pairs
    b = local.pairs
    diffs, agree = [], []
    for column in ("probs_control_orders", "probs_treatment_orders"):
        for x, y in zip(a[column], b[column], strict=True):
            for px, py in zip(x, y, strict=True):
                diffs.append(float(np.abs(np.asarray(px) - np.asarray(py)).max()))
                agree.append(int(np.argmax(px)) == int(np.argmax(py)))
    scores = result.summary.set_index("bias").score
    local_scores = local.summary.set_index("bias").score
    out["in_process"] = {"seconds": round(local_s, 2), "prompts_per_s": round(n / local_s, 2),
                         "largest_prob_diff": round(max(diffs), 4),
                         "mean_prob_diff": round(float(np.mean(diffs)), 4),
                         "argmax_agreement": round(float(np.mean(agree)), 4),
                         "largest_bias_score_diff": round(float((scores - local_scores).abs().max()), 4),
                         "position_preference": local.manifest.position_preference.model_dump()}
    out["served_over_in_process_time"] = round(served_s / local_s, 2)
    out["threads"] = args.threads
    out["load_after"] = _load()
    text = json.dumps(out, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
