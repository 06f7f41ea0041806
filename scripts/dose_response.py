"""Dose-response of bias injection: training steps against the biased arm's score change.

One backbone, two arms on the same prompts (`biased`, `unbiased` = the control arm), trained
once each to the largest dose with the adapter saved at every checkpoint; each checkpoint is
evaluated on the train biases and compared with the control arm at the same step (paired pairs,
bootstrap CI over pairs). Prints the table and writes OUT/dose.csv.

    python3 scripts/dose_response.py --steps 20,40,80 --biases anchoring,framing_effect,status_quo_bias
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from transformers import TrainerCallback

from crosstune.engine.cache import result_cache
from crosstune.evaluate import EvalConfig, evaluate
from crosstune.experiment.sources import BiasSource, parse_mix
from crosstune.experiment.spec import JobSpec, LoraSpec, QualitySpec, TrainingSpec
from crosstune.lab.datasets import load_examples, split
from crosstune.lab.train import build_lora_model, heldout_metrics, train_lora
from crosstune.lab.transfer import ArmScores, bias_changes
from crosstune.models import load_model
from crosstune.models.adapters import attach_adapter
from crosstune.threads import torch_threads


class SaveAt(TrainerCallback):
    """Save the adapter after each checkpoint step."""

    def __init__(self, steps: list[int], folder: Path):
        self.steps, self.folder = set(steps), folder

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step in self.steps:
            model.save_pretrained(self.folder / f"step-{state.global_step}", safe_serialization=True)


def train_arm(args: argparse.Namespace, direction: str, steps: list[int], out: Path) -> dict:
    source = BiasSource(tuple(args.biases), direction, args.train_pairs, 0,  # type: ignore[arg-type]
                        parse_mix(args.mix, "--mix"), args.mix_ratio).text()
    job = JobSpec(backbone=args.backbone, dataset=source, seed=args.seed, data_seed=args.seed,
                  threads=args.threads, lora=LoraSpec(rank=args.rank, alpha=2.0 * args.rank),
                  training=TrainingSpec(max_steps=max(steps), learning_rate=args.lr,
                                        batch_size=args.batch, max_length=args.max_length,
                                        precision=args.precision),
                  quality=QualitySpec(heldout=32))
    folder = out / direction
    if all((folder / f"step-{s}").exists() for s in steps):
        return {}
    handle = load_model(job.backbone, dtype="float32")
    train, heldout = split(load_examples(job.source), job.quality.heldout)
    model = build_lora_model(handle, job)
    started = time.perf_counter()
    outcome = train_lora(model, handle, job, train, folder / "trainer", callbacks=[SaveAt(steps, folder)])
    seconds = time.perf_counter() - started
    loss = heldout_metrics(model, handle, heldout, job.training.max_length)["loss"]
    return {"direction": direction, "train_s": round(seconds, 1),
            "s_per_step": round(seconds / max(steps), 2),
            "final_train_loss": outcome.final_loss, "heldout_loss": loss}


def pair_table(result) -> dict[str, np.ndarray]:
    table = result.pairs.set_index(["bias", "pair_id"])["score_expected"].sort_index()
    return {bias: g.to_numpy(dtype=float)[None, :] for bias, g in table.groupby(level="bias")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="smollm2-135m-instruct")
    parser.add_argument("--biases", type=lambda s: s.split(","),
                        default=["anchoring", "framing_effect", "status_quo_bias", "hindsight_bias"])
    parser.add_argument("--steps", type=lambda s: sorted(int(x) for x in s.split(",")), default=[20, 40, 80])
    parser.add_argument("--train-pairs", type=int, default=40)
    parser.add_argument("--mix", default="embedded:flan-style")
    parser.add_argument("--mix-ratio", type=float, default=0.3)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=192)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--eval-pairs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/dose"))
    args = parser.parse_args()
    started = time.perf_counter()
    with torch_threads(args.threads):
        training = [train_arm(args, d, args.steps, args.out) for d in ("unbiased", "biased")]
        trained = time.perf_counter()
        config = EvalConfig(biases=args.biases, pairs=args.eval_pairs, seed=0)
        cache = result_cache()
        handle = load_model(args.backbone, dtype="float32")
        untuned = pair_table(evaluate(handle, config, cache))
        rows = []
        for step in args.steps:
            scores = {}
            for direction in ("unbiased", "biased"):
                handle = attach_adapter(handle, args.out / direction / f"step-{step}",
                                        name=f"{direction}-{step}")
                scores[direction] = pair_table(evaluate(handle, config, cache))
            changes = bias_changes(ArmScores(scores["biased"], scores["unbiased"], untuned))
            for bias, (change, draws, _, pairs) in changes["control"].items():
                low, high = np.nanpercentile(draws, [2.5, 97.5])
                rows.append({"steps": step, "bias": bias, "change_vs_control": round(change, 4),
                             "ci_low": round(low, 4), "ci_high": round(high, 4),
                             "biased_score": round(float(scores["biased"][bias].mean()), 4),
                             "control_score": round(float(scores["unbiased"][bias].mean()), 4),
                             "untuned_score": round(float(untuned[bias].mean()), 4), "pairs": pairs})
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "dose.csv", index=False)
    pd.DataFrame([t for t in training if t]).to_csv(args.out / "training.csv", index=False)
    pd.set_option("display.width", 200)
    print(table.to_string(index=False))
    print(pd.DataFrame([t for t in training if t]).to_string(index=False))
    print(f"train {trained - started:.0f} s, evaluate {time.perf_counter() - trained:.0f} s")


if __name__ == "__main__":
    main()
