"""A grid of 4 finetunes evaluated in process and through one llama.cpp server, side by side.

Run: PYTHONPATH=src:. python3 benchmarks/served_grid.py --out benchmarks/results/served-grid.json
     (needs llama-cpp-python[server]; small sizes: --steps 2 --biases anchoring,framing_effect --pairs 1)

One backbone (the embedded SmolLM2) x the two embedded instruction datasets x seeds 0 and 1:
4 LoRA finetunes, trained once here. Then the same run is evaluated twice:
  (a) in process: the backbone loaded once, adapters switched in (the ordinary `crosstune run`);
  (b) through a llama.cpp server started from the `crosstune serve-command --llama-cpp` config:
      the backbone GGUF under its name and every finetune under its job id, each adapter
      converted to a GGUF LoRA; the run's `[evaluation.server]` names them (vLLM's
      `--lora-modules JOB_ID=ADAPTER` layout), the jobs' training is reused, not repeated.
Reports the wall time of each evaluation, per-bias score agreement over all models, and the
largest difference of every number in the analysis tables the two runs share.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from crosstune.experiment.serving import llama_cpp_config
from crosstune.experiment.spec import load_spec
from crosstune.lab.experiment import check_spec, claim_run_folder
from crosstune.lab.pipeline import run_and_analyze
from crosstune.models.embedded import EMBEDDED
from crosstune.store import ANALYSIS, SCORES
from tests.llama_server import LlamaServer, free_port

NAME = "smollm2-135m-instruct"
SPEC = """name = "{name}"
backbones = ["{backbone}"]
datasets = ["embedded:flan-style", "embedded:tulu-style"]
seeds = [0, 1]
threads = 2

[training]
max_steps = {steps}
learning_rate = 3e-3
batch_size = 4
max_length = 96

[evaluation]
pairs = {pairs}
biases = {biases}

[quality]
heldout = 8
min_loss_drop = -10.0
{server}"""


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _spec(folder: Path, name: str, args: argparse.Namespace, server: str = "") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(SPEC.format(name=name, backbone=NAME, steps=args.steps, pairs=args.pairs,
                                biases=json.dumps(args.biases.split(",")), server=server))
    return path


def _tables(run: Path) -> dict[str, pd.DataFrame]:
    return {p.name: pd.read_csv(p) for p in sorted((run / ANALYSIS).glob("*.csv"))}


def compare_tables(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> dict[str, float]:
    """Largest absolute difference of the numeric cells each shared table has in both runs."""
    out = {}
    for name in sorted(set(a) & set(b)):
        x, y = a[name], b[name]
        if x.shape != y.shape:
            out[name] = float("nan")
            continue
        nx, ny = x.select_dtypes("number"), y.select_dtypes("number")
        shared = [c for c in nx.columns if c in ny.columns]
        diff = (nx[shared] - ny[shared]).abs().to_numpy(float)
        out[name] = float(np.nanmax(diff)) if diff.size and not np.isnan(diff).all() else 0.0
    return out


def run(args: argparse.Namespace) -> dict[str, object]:
    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    out: dict[str, object] = {"model": NAME, "finetunes": 4, "steps": args.steps, "pairs": args.pairs,
                              "biases": args.biases.split(","), "load_before": _load()}
    local_dir = work / "local"
    started = time.perf_counter()
    report = run_and_analyze(check_spec(load_spec(_spec(work, "local", args))), local_dir)
    out["in_process"] = {"train_s": report.outcome.train_s, "evaluate_s": report.outcome.evaluate_s}

    port = free_port()
    server = (f'\n[evaluation.server]\nbase_url = "http://127.0.0.1:{port}/v1"\n'
              f'tokenizer = "{args.tokenizer or NAME}"\nconcurrency = {args.concurrency}\n')
    served_spec = check_spec(load_spec(_spec(work, "served", args, server)))
    served_dir = work / "served"
    claim_run_folder(served_spec.spec, served_dir)
    shutil.copytree(local_dir / "jobs", served_dir / "jobs")  # the trained adapters, reused
    for evaluated in (served_dir / "jobs").glob("*/eval"):
        shutil.rmtree(evaluated)
    started = time.perf_counter()
    config = llama_cpp_config(served_dir, EMBEDDED[NAME].locate(), work / "llama-cpp", args.threads)
    llama = LlamaServer(config_file=config, port=port).start()
    out["server_start_s"] = round(time.perf_counter() - started, 2)
    try:
        report_served = run_and_analyze(served_spec, served_dir)
    finally:
        llama.stop()
    out["served"] = {"train_s": report_served.outcome.train_s,
                     "evaluate_s": report_served.outcome.evaluate_s}
    out["served_vs_in_process_evaluate_time"] = round(
        report_served.outcome.evaluate_s / max(report.outcome.evaluate_s, 1e-9), 2)
    a = pd.read_csv(local_dir / SCORES).set_index("model")
    b = pd.read_csv(served_dir / SCORES).set_index("model").loc[a.index, a.columns]
    per_bias = (a - b).abs().max()
    out["largest_bias_score_diff_per_bias"] = per_bias.round(4).to_dict()
    out["largest_bias_score_diff"] = round(float(per_bias.max()), 4)
    out["analysis_tables_largest_diff"] = compare_tables(_tables(local_dir), _tables(served_dir))
    out["analysed"] = [report.analysis is not None, report_served.analysis is not None]
    out["load_after"] = _load()
    return out


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--biases", default="anchoring,framing_effect,decoy_effect,halo_effect")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads (as in process)")
    parser.add_argument("--tokenizer", help="a converted model folder (loads faster than the GGUF)")
    parser.add_argument("--work", type=Path, default=Path("runs/bench-served-grid"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    out = run(args)
    text = json.dumps(out, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return out


if __name__ == "__main__":
    main()
