"""One LoRA finetune: completion-only loss, seeded init and data order, adapter saved as safetensors."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from crosstune.errors import CrosstuneError
from crosstune.experiment.spec import JobSpec, TrainingSpec
from crosstune.lab.datasets import Example, load_examples, split
from crosstune.models import load_model
from crosstune.models.handle import ModelHandle
from crosstune.records import TrainingSetup

_AUTO_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
                 "q", "k", "v", "o", "wi", "wo", "wi_0", "wi_1", "c_attn", "c_proj", "c_fc")


class NanLossError(CrosstuneError):
    """Training produced a NaN/inf loss; the job is marked failed and the grid goes on."""


@dataclass
class TrainOutcome:
    steps: int
    final_loss: float
    log: list[dict[str, float]]
    setup: TrainingSetup


@dataclass(frozen=True)
class Devices:
    """Where training runs: CUDA or not, bf16 support, processes (torchrun/accelerate) and GPUs."""

    cuda: bool
    bf16: bool
    world_size: int = 1
    local_rank: int = 0
    gpus: int = 0

    @property
    def replicas(self) -> int:
        """Model copies that each take a per-device batch: one per process, or, in a single
        process that sees several GPUs, one per GPU (the Trainer wraps it in DataParallel)."""
        return self.world_size if self.world_size > 1 else max(1, self.gpus)

    @classmethod
    def detect(cls) -> Devices:
        cuda = torch.cuda.is_available()
        return cls(cuda, cuda and torch.cuda.is_bf16_supported(),
                   int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("LOCAL_RANK", "0")),
                   torch.cuda.device_count() if cuda else 0)


def resolve_precision(precision: str, devices: Devices) -> str:
    """auto -> bf16 on CUDA that supports it, fp16 on older CUDA, fp32 on CPU."""
    if precision == "auto":
        return ("bf16" if devices.bf16 else "fp16") if devices.cuda else "fp32"
    if precision == "fp16" and not devices.cuda:
        raise CrosstuneError("training.precision fp16 needs a CUDA GPU; use auto, fp32 or bf16 on CPU")
    return precision


LOAD_DTYPE = {"bf16": "bfloat16", "fp16": "float32", "fp32": "float32"}
"""Frozen base weights on CUDA: bf16 under bf16; fp16 mixed precision keeps fp32 weights (AMP needs
them). On CPU always fp32: bf16 there is the Trainer's autocast over fp32 weights, the path
benchmarks/bf16_training.py measures (a bf16-stored base is its own arm there)."""


def load_options(job: JobSpec, devices: Devices | None = None) -> dict[str, str]:
    """device and dtype for `load_model`: this process's GPU, weights in the training precision."""
    devices = devices or Devices.detect()
    precision = resolve_precision(job.training.precision, devices)
    return {"device": f"cuda:{devices.local_rank}" if devices.cuda else "cpu",
            "dtype": LOAD_DTYPE[precision] if devices.cuda else "float32"}


def accumulation_steps(job: JobSpec, replicas: int) -> int:
    """Per-device batch x accumulation x devices = effective batch, whatever the device count."""
    t = job.training
    if t.effective_batch_size is None:
        return t.gradient_accumulation
    per_update = t.batch_size * replicas
    if t.effective_batch_size % per_update:
        raise CrosstuneError(f"training.effective_batch_size {t.effective_batch_size} is not a multiple "
                             f"of batch_size {t.batch_size} x {replicas} device(s); change batch_size "
                             "or the device count")
    return t.effective_batch_size // per_update


def check_training(training: TrainingSpec, devices: Devices | None = None) -> None:
    """What training would refuse on this machine, refused before anything is written."""
    devices = devices or Devices.detect()
    resolve_precision(training.precision, devices)
    if training.deepspeed is not None and not Path(training.deepspeed).is_file():
        raise CrosstuneError(f"training.deepspeed config {training.deepspeed} not found; give a JSON "
                             "file path")


def training_arguments(job: JobSpec, work_dir: Path, devices: Devices | None = None) -> dict[str, Any]:
    """The keyword arguments of transformers' TrainingArguments for this job on these devices."""
    devices = devices or Devices.detect()
    t = job.training
    precision = resolve_precision(t.precision, devices)
    if t.deepspeed is not None and not Path(t.deepspeed).is_file():
        raise CrosstuneError(f"training.deepspeed config {t.deepspeed} not found; give a JSON file path")
    return {
        "output_dir": str(work_dir), "max_steps": t.max_steps, "learning_rate": t.learning_rate,
        "lr_scheduler_type": t.schedule, "warmup_steps": t.warmup_ratio,
        "per_device_train_batch_size": t.batch_size,
        "gradient_accumulation_steps": accumulation_steps(job, devices.replicas),
        "bf16": precision == "bf16", "fp16": precision == "fp16",
        "activation_checkpointing": t.gradient_checkpointing,  # transformers 5's name for it
        "activation_checkpointing_kwargs": {"use_reentrant": False} if t.gradient_checkpointing else None,
        "deepspeed": t.deepspeed,
        "logging_steps": 1, "logging_nan_inf_filter": False, "save_strategy": "no", "report_to": [],
        "seed": job.seed, "data_seed": job.data_seed,
        "dataloader_num_workers": 0, "disable_tqdm": True, "use_cpu": not devices.cuda,
    }


def target_modules(model: Any, requested: list[str] | str) -> list[str]:
    """The LoRA targets: the requested names (checked against the model) or the auto list."""
    leaf_names = {name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                  if isinstance(module, torch.nn.Linear)}
    if requested == "auto":
        found = [n for n in _AUTO_TARGETS if n in leaf_names]
        if not found:
            raise CrosstuneError(f"no known projection layers to adapt in {type(model).__name__}; "
                                 f"set lora.target_modules from: {sorted(leaf_names)}")
        return found
    missing = [n for n in requested if n not in leaf_names]
    if missing:
        raise CrosstuneError(f"lora.target_modules {missing} do not exist in "
                             f"{type(model).__name__}; its linear layers are {sorted(leaf_names)}")
    return list(requested)


def encode_example(handle: ModelHandle, example: Example, max_length: int) -> dict[str, list[int]]:
    """Token ids with labels -100 on the prompt: the loss is on the completion only."""
    tok = handle.tokenizer
    prompt = handle.render_turns(example.prompt) + example.cue
    prompt_ids = tok(prompt, add_special_tokens=handle.add_special_tokens)["input_ids"]
    answer_ids = tok(example.completion, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    if handle.kind == "seq2seq":
        source = prompt_ids[:max_length]
        return {"input_ids": source, "attention_mask": [1] * len(source),
                "labels": answer_ids[:max_length]}
    ids = (prompt_ids + answer_ids)[:max_length]
    labels = ([-100] * len(prompt_ids) + answer_ids)[:max_length]
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}


MAX_ANSWERS_CUT = 0.5
"""Share of training examples that may lose their whole answer to truncation before a run is
refused: when most of the set teaches nothing, the run would report success on almost nothing
(bias-injection prompts, ~110-230 tokens, at the default max_length of 128). Fewer are counted in
the job's training setup (`answers_cut_by_max_length`)."""


def answers_cut(encoded: list[dict[str, list[int]]], handle: ModelHandle,
                examples: list[Example], max_length: int) -> int:
    """How many examples truncation leaves without a single answer token; too many is an error."""
    lost = [i for i, row in enumerate(encoded) if all(label == -100 for label in row["labels"])]
    if len(lost) > MAX_ANSWERS_CUT * len(encoded):
        longest = max(len(encode_example(handle, examples[i], 1 << 20)["input_ids"]) for i in lost)
        raise CrosstuneError(f"{len(lost)} of {len(encoded)} training examples are longer than "
                             f"training.max_length = {max_length} tokens and would lose their whole "
                             f"answer; set training.max_length to at least {longest}")
    return len(lost)


def check_lengths(handle: ModelHandle, training_sets: dict[str, list[Example]], max_length: int) -> None:
    """Training's truncation check on every training set, with only the backbone's tokenizer: a
    run refuses it before it writes anything, and --dry-run alike."""
    for dataset, examples in training_sets.items():
        try:
            answers_cut([encode_example(handle, e, max_length) for e in examples], handle, examples,
                        max_length)
        except CrosstuneError as err:
            raise CrosstuneError(f"{dataset} on {handle.name}: {err}") from None


def build_lora_model(handle: ModelHandle, job: JobSpec) -> Any:
    """Seed first, then build LoRA layers: the seed alone decides the adapter's init."""
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import set_seed

    set_seed(job.seed)
    config = LoraConfig(
        r=job.lora.rank, lora_alpha=job.lora.alpha, lora_dropout=job.lora.dropout,
        target_modules=target_modules(handle.model, job.lora.target_modules),
        task_type=TaskType.SEQ_2_SEQ_LM if handle.kind == "seq2seq" else TaskType.CAUSAL_LM,
    )
    return get_peft_model(handle.model, config)


StepReport = Callable[[int, int, float], None]
"""(step, max_steps, loss) after every logged step: how a display follows a local job."""


def train_lora(model: Any, handle: ModelHandle, job: JobSpec, train: list[Example],
               work_dir: Path, on_step: StepReport | None = None,
               callbacks: Sequence[Any] = ()) -> TrainOutcome:
    """transformers' Trainer in the spec's precision, on one or many devices; stops at a non-finite loss.

    `callbacks`: extra `TrainerCallback`s (the dose-response script saves adapters at checkpoints)."""
    from transformers import (
        DataCollatorForSeq2Seq,
        PrinterCallback,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    t = job.training
    encoded = [encode_example(handle, e, t.max_length) for e in train]
    cut = answers_cut(encoded, handle, train, t.max_length)
    history: list[dict[str, float]] = []

    class WatchLoss(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                # a NaN gradient norm is the first sign; the loss follows a step later
                loss = float(logs["loss"]) if math.isfinite(logs.get("grad_norm", 0.0)) else math.nan
                history.append({"step": state.global_step, "loss": loss})
                if on_step:
                    on_step(state.global_step, t.max_steps, loss)
                if not math.isfinite(loss):
                    control.should_training_stop = True

    devices = Devices.detect()
    kwargs = training_arguments(job, work_dir, devices)
    args = TrainingArguments(**kwargs)
    collator = DataCollatorForSeq2Seq(handle.tokenizer, padding=True, label_pad_token_id=-100)
    trainer = Trainer(model=model, args=args, train_dataset=encoded, data_collator=collator,
                      callbacks=[WatchLoss(), *callbacks])
    trainer.remove_callback(PrinterCallback)  # its raw log dicts belong in the log file, not the terminal
    try:
        trainer.train()
    finally:
        # accelerate wraps the forward in autocast and casts its outputs back to fp32 under bf16/fp16, and
        # the Trainer leaves the wrapper on: the held-out loss after training, task accuracy and a planted
        # model's numbers would be measured in bf16 against an fp32 "before". Unwrapped, they are not.
        from accelerate.utils import extract_model_from_parallel

        extract_model_from_parallel(model, keep_fp32_wrapper=False)
    final = history[-1]["loss"] if history else float("nan")
    if not math.isfinite(final):
        raise NanLossError(f"training loss became {final} at step {history[-1]['step'] if history else 0}")
    accumulation = kwargs["gradient_accumulation_steps"]
    setup = TrainingSetup(precision=resolve_precision(t.precision, devices), devices=devices.replicas,
                          per_device_batch=t.batch_size, accumulation=accumulation,
                          effective_batch=t.batch_size * accumulation * devices.replicas,
                          gradient_checkpointing=t.gradient_checkpointing, deepspeed=t.deepspeed,
                          answers_cut_by_max_length=cut)
    return TrainOutcome(len(history), final, history, setup)


@torch.inference_mode()
def heldout_metrics(model: Any, handle: ModelHandle, examples: list[Example], max_length: int,
                    batch_size: int = 8) -> dict[str, float]:
    """Mean completion-token loss and next-token accuracy on held-out examples."""
    from transformers import DataCollatorForSeq2Seq

    collator = DataCollatorForSeq2Seq(handle.tokenizer, padding=True, label_pad_token_id=-100)
    device = next(model.parameters()).device
    total_loss, total_correct, total_tokens = 0.0, 0, 0
    model.eval()
    for start in range(0, len(examples), batch_size):
        batch = collator([encode_example(handle, e, max_length)
                          for e in examples[start:start + batch_size]])
        batch = {k: v.to(device) for k, v in batch.items()}
        logits = model(**{k: v for k, v in batch.items() if k != "labels"},
                       **({"labels": batch["labels"]} if handle.kind == "seq2seq" else {})).logits
        labels = batch["labels"]
        if handle.kind == "causal":
            logits, labels = logits[:, :-1], labels[:, 1:]
        mask = labels != -100
        logp = torch.log_softmax(logits.float(), -1)
        picked = logp.gather(-1, labels.clamp(min=0)[..., None])[..., 0]
        total_loss += float(-(picked * mask).sum())
        total_correct += int(((logits.argmax(-1) == labels) & mask).sum())
        total_tokens += int(mask.sum())
    return {"loss": total_loss / max(total_tokens, 1), "accuracy": total_correct / max(total_tokens, 1)}


@dataclass
class Finetune:
    """A LoRA finetune done, with what a job and a planted model both report of it."""

    handle: ModelHandle
    model: Any
    train: list[Example]
    before: dict[str, float]
    after: dict[str, float]
    outcome: TrainOutcome


def finetune(job: JobSpec, work_dir: Path, on_step: StepReport | None = None) -> Finetune:
    """The one training sequence of every arm: load the backbone, split the job's data, add LoRA,
    held-out loss and accuracy before, train, after (NanLossError when the loss diverges)."""
    handle = load_model(job.backbone, **load_options(job))
    train, heldout = split(load_examples(job.source), job.quality.heldout)
    model = build_lora_model(handle, job)
    before = heldout_metrics(model, handle, heldout, job.training.max_length)
    outcome = train_lora(model, handle, job, train, work_dir, on_step)
    after = heldout_metrics(model, handle, heldout, job.training.max_length)
    shutil.rmtree(work_dir, ignore_errors=True)
    return Finetune(handle, model, train, before, after, outcome)
