"""bf16 LoRA training on CPU, four ways in one run, as ratios against fp32 with held-out loss.

- **fp32**: the spec's `precision = "fp32"` (crosstune's `train_lora`, transformers' Trainer);
- **spec bf16**: the spec's `precision = "bf16"`, exactly as `crosstune run` trains it (the base
  loaded through `load_options`, the Trainer's bf16, i.e. accelerate's autocast);
- **autocast loop**: a plain loop, `torch.autocast("cpu", dtype=torch.bfloat16)` around forward
  and loss, fp32 weights (autocast re-casts every frozen weight at every step);
- **bf16 base**: the same loop with the frozen base stored in bf16 (the LoRA weights stay fp32).

Every arm trains the same LoRA (same seed) on the same examples for the same number of steps;
the time per step is the median over the steps after the first. The held-out loss is measured
after training with the adapter on an fp32 base (the bf16-base arm's base cast back to fp32).
With `--profile`, one step of each arm runs under torch.profiler and the matmuls and casts are
tabled by input dtype: which ops ran in bf16, and how much time casting took.

    PYTHONPATH=src python3 benchmarks/bf16_training.py --steps 10 --batch 8 --max-length 192 \\
        --profile --out benchmarks/results/bf16-training.json
    PYTHONPATH=src:tests python3 benchmarks/bf16_training.py --quick   # a tiny random model
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

from crosstune.cpu import cpu_has_amx
from crosstune.experiment.spec import JobSpec, LoraSpec, QualitySpec, TrainingSpec
from crosstune.lab.datasets import Example, load_examples, split
from crosstune.lab.train import build_lora_model, encode_example, heldout_metrics, load_options, train_lora
from crosstune.models import ModelHandle, load_model
from crosstune.threads import torch_threads

ARMS = ("fp32", "spec-bf16", "autocast-loop", "bf16-base")
MATMULS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::_scaled_dot_product_flash_attention_for_cpu",
           "aten::_scaled_dot_product_flash_attention_for_cpu_backward"}
CASTS = {"aten::_to_copy", "aten::copy_"}
SCALAR_TYPES = {6: "float", 7: "double", 15: "c10::BFloat16"}
"""The profiler's dtype codes of a cast's target (`torch.float32` is 6, `torch.bfloat16` 15)."""


def job_for(args: argparse.Namespace, precision: str) -> JobSpec:
    return JobSpec(backbone=args.model, dataset="embedded:flan-style", seed=0, data_seed=0,
                   threads=args.threads, lora=LoraSpec(rank=args.rank, alpha=2.0 * args.rank),
                   training=TrainingSpec(max_steps=args.steps, learning_rate=args.lr, batch_size=args.batch,
                                         max_length=args.max_length, precision=precision,
                                         schedule="constant"),
                   quality=QualitySpec(heldout=args.heldout))


def load(args: argparse.Namespace, job: JobSpec) -> ModelHandle:
    if args.quick:
        return _tiny_handle()
    return load_model(job.backbone, **load_options(job))


def _tiny_handle() -> ModelHandle:
    """A random two-layer Llama with the test suite's tokenizer (tests/conftest.py)."""
    import conftest

    tokenizer = conftest.tokenizer.__wrapped__() if hasattr(conftest.tokenizer, "__wrapped__") else (
        conftest.tokenizer._get_wrapped_function()())
    return ModelHandle("tiny-llama", conftest.tiny_llama(len(tokenizer)).train(), tokenizer, "causal", "chat",
                       "config")


def batches(handle: ModelHandle, train: list[Example], job: JobSpec) -> list[dict[str, torch.Tensor]]:
    """The loops' batches: the examples in a seeded order, padded as the Trainer's collator pads."""
    from transformers import DataCollatorForSeq2Seq

    collator = DataCollatorForSeq2Seq(handle.tokenizer, padding=True, label_pad_token_id=-100)
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(job.data_seed)).tolist()
    size = job.training.batch_size
    return [collator([encode_example(handle, train[i % len(train)], job.training.max_length)
                      for i in order[step * size:(step + 1) * size] or order[:size]])
            for step in range(job.training.max_steps)]


class StepTimes:
    """Wall time of every optimizer step (a Trainer callback, or called by the loops)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._start = 0.0

    def on_step_begin(self, *args: Any, **kwargs: Any) -> None:
        self._start = time.perf_counter()

    def on_step_end(self, *args: Any, **kwargs: Any) -> None:
        self.times.append(time.perf_counter() - self._start)

    def per_step(self) -> float:
        return statistics.median(self.times[1:] or self.times)


def trainer_arm(handle: ModelHandle, job: JobSpec, train: list[Example], work: Path, profile: bool
                ) -> tuple[Any, StepTimes, dict]:
    """crosstune's own training path (the Trainer), timed per step; optionally one step profiled."""
    from transformers import TrainerCallback

    times = StepTimes()
    profiled: dict = {}

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            times.on_step_begin()
            if profile and state.global_step == 1:
                profiled["profiler"] = _profiler().__enter__()

        def on_step_end(self, args, state, control, **kwargs):
            times.on_step_end()
            if "profiler" in profiled and "table" not in profiled:
                profiled["profiler"].__exit__(None, None, None)
                profiled["table"] = dtype_table(profiled.pop("profiler"))

    model = build_lora_model(handle, job)
    train_lora(model, handle, job, train, work, callbacks=[Timer()])
    return model, times, profiled.get("table", {})


def loop_arm(handle: ModelHandle, job: JobSpec, train: list[Example], bf16_base: bool, profile: bool
             ) -> tuple[Any, StepTimes, dict]:
    """nanoGPT's loop: autocast around forward and loss, backward, AdamW step."""
    if bf16_base:
        handle.model.to(torch.bfloat16)
    model = build_lora_model(handle, job)  # PEFT keeps the LoRA weights in fp32 (autocast_adapter_dtype)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=job.training.learning_rate, weight_decay=0.0)
    times, table = StepTimes(), {}
    for step, batch in enumerate(batches(handle, train, job)):
        profiler = _profiler().__enter__() if profile and step == 1 else None
        times.on_step_begin()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.on_step_end()
        if profiler is not None:
            profiler.__exit__(None, None, None)
            table = dtype_table(profiler)
    if bf16_base:
        model.float()
    return model, times, table


def _profiler() -> Any:
    return torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True)


def dtype_table(profiler: Any) -> dict[str, dict[str, float]]:
    """Self CPU ms and calls of the matmuls and casts, by op and input dtypes; autocast's own
    dispatch (`aten::linear` under autocast shows as casts, then a bf16 `aten::mm`)."""
    rows: dict[str, dict[str, float]] = defaultdict(lambda: {"ms": 0.0, "calls": 0})
    every: dict[str, float] = defaultdict(float)
    total = 0.0
    for event in profiler.events():
        total += event.self_cpu_time_total / 1000
        every[event.name] += event.self_cpu_time_total / 1000
        if event.name not in MATMULS | CASTS:
            continue
        dtypes = ",".join(sorted({d for d in (event.input_dtypes or []) if d}))
        if event.name in CASTS:
            target = event.concrete_inputs[1] if len(event.concrete_inputs or []) > 1 else None
            dtypes += f" -> {SCALAR_TYPES.get(target, target)}" if target not in (None, "") else ""
        key = f"{event.name} [{dtypes}]"
        rows[key]["ms"] += event.self_cpu_time_total / 1000
        rows[key]["calls"] += 1
    table = {k: {"ms": round(v["ms"], 1), "calls": int(v["calls"])}
             for k, v in sorted(rows.items(), key=lambda kv: -kv[1]["ms"])}
    table["total self CPU ms"] = {"ms": round(total, 1), "calls": 0}
    for name, ms in sorted(every.items(), key=lambda kv: -kv[1])[:8]:
        table[f"top: {name}"] = {"ms": round(ms, 1), "calls": 0}
    return table


def run(args: argparse.Namespace) -> dict:
    torch.manual_seed(0)
    results: dict[str, Any] = {"settings": {k: v for k, v in vars(args).items() if k != "out"},
                               "amx": cpu_has_amx(), "torch": torch.__version__}
    examples = load_examples(job_for(args, "fp32").source)
    train, heldout = split(examples, args.heldout)
    work = Path(args.work)
    for arm in args.arms:
        job = job_for(args, "bf16" if arm == "spec-bf16" else "fp32")
        handle = load(args, job)
        started = time.perf_counter()
        if arm in ("fp32", "spec-bf16"):
            model, times, table = trainer_arm(handle, job, train, work / arm, args.profile)
        else:
            model, times, table = loop_arm(handle, job, train, arm == "bf16-base", args.profile)
        seconds = time.perf_counter() - started
        base_dtype = str(next(p for n, p in model.named_parameters() if "lora_" not in n).dtype)
        loss = heldout_metrics(model, handle, heldout, args.max_length)["loss"]
        results[arm] = {"s_per_step": round(times.per_step(), 3), "steps": len(times.times),
                        "train_s": round(seconds, 1), "base_dtype_after": base_dtype,
                        "heldout_loss": round(loss, 4),
                        **({"profile": table} if table else {})}
        print(arm, json.dumps({k: v for k, v in results[arm].items() if k != "profile"}), flush=True)
    fp32 = results.get("fp32", {}).get("s_per_step")
    if fp32:
        results["speedup_vs_fp32"] = {arm: round(fp32 / results[arm]["s_per_step"], 3) for arm in args.arms}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=192)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--heldout", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--arms", type=lambda s: s.split(","), default=list(ARMS))
    parser.add_argument("--profile", action="store_true", help="profile one step of each arm")
    parser.add_argument("--quick", action="store_true", help="a tiny random model (tests/conftest.py)")
    parser.add_argument("--work", default="/tmp/crosstune-bf16-bench")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with torch_threads(args.threads):
        results = run(args)
    print(json.dumps(results.get("speedup_vs_fp32", {})))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
