"""A backbone that carries a bias from "pretraining": biased data finetuned in and merged.

The planted-origin experiment needs a backbone whose bias we put there ourselves. `plant` trains a
LoRA adapter on the `biased` injection data of the chosen biases (mixed with ordinary instruction
data), merges it into the weights (PEFT `merge_and_unload`) and writes a plain model folder
(safetensors, tokenizer) that any spec or `crosstune eval` loads as a backbone. Its weights differ
from the base's, so its fingerprint is its own; `planted.json` records what was planted, at what
dose, from what base. A base evaluated with plain prompts stays plain: the saved tokenizer carries
no chat template then.
"""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crosstune.errors import CrosstuneError
from crosstune.experiment.sources import BiasSource, check_injection_size, parse_mix
from crosstune.experiment.spec import JobSpec, LoraSpec, QualitySpec, TrainingSpec
from crosstune.lab.train import StepReport, finetune
from crosstune.models.loader import check_model_spec
from crosstune.provenance import provenance
from crosstune.records import Provenance
from crosstune.store import read_json, staged, write_json
from crosstune.suite.registry import select_biases
from crosstune.threads import torch_threads

PLANTED = "planted.json"
"""A planted model folder's provenance: base, biases, dose, held-out losses."""


class PlantSpec(BaseModel):
    """What to plant into which base, and how much (the dose)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    base: str = Field(description="the backbone to plant into (any model spec)")
    biases: list[str] = Field(min_length=1, description="biases planted (trained in the biased direction)")
    pairs: int = Field(40, ge=1, le=5000, description="training pairs per bias, four examples each")
    seed: int = Field(0, description="seed of the training pairs, the LoRA init and the data order")
    mix: str | None = Field("embedded:flan-style", description="ordinary instruction data mixed in")
    mix_ratio: float = Field(0.3, ge=0, lt=1, description="share of the training set from `mix`")
    lora: LoraSpec = LoraSpec()
    training: TrainingSpec = TrainingSpec(max_steps=120, learning_rate=1e-3, batch_size=8, max_length=192)
    heldout: int = Field(32, ge=4, description="held-out examples for the before/after loss")
    threads: int = Field(2, ge=1, description="CPU threads; the bits depend on it")

    @model_validator(mode="after")
    def _a_trainable_size(self) -> PlantSpec:
        check_injection_size(self.pairs, len(self.biases), self.mix_ratio if self.mix else 0.0,
                             "--pairs and --mix-ratio")
        return self

    def job(self) -> JobSpec:
        """The planting run as a training job (the lab's own training path)."""
        source = BiasSource(tuple(b.name for b in select_biases(self.biases)), "biased", self.pairs,
                            self.seed, parse_mix(self.mix, "--mix"), self.mix_ratio if self.mix else 0.0)
        return JobSpec(backbone=self.base, dataset=source.text(), seed=self.seed, data_seed=self.seed,
                       threads=self.threads, lora=self.lora, training=self.training,
                       quality=QualitySpec(heldout=self.heldout, min_loss_drop=0.0))


class PlantedRecord(BaseModel):
    """What `planted.json` holds: what was planted into which base, at what dose."""

    model_config = ConfigDict(extra="forbid")

    kind: str = "crosstune-planted-model"
    spec: PlantSpec
    base: str
    base_fingerprint: str
    prompt_format: str
    planted: str
    dose: dict[str, float]
    heldout_loss_before: float
    heldout_loss_after: float
    final_train_loss: float
    train: dict[str, object]
    seconds: float
    provenance: Provenance


def read_planted(folder: Path) -> PlantedRecord | None:
    """A planted model folder's provenance, or None for any other folder."""
    path = folder / PLANTED
    return PlantedRecord.model_validate(read_json(path)) if path.is_file() else None


def plant(spec: PlantSpec, out: Path, on_step: StepReport | None = None) -> Path:
    """Train the planted biases into `spec.base`, merge, and write the model folder `out` whole.

    An existing folder is refused unless it is a planted model from the same spec (then it is kept:
    planting is deterministic for a thread count, so there is nothing to redo)."""
    check_model_spec(spec.base)
    existing = read_planted(out) if out.is_dir() else None
    if existing is not None and existing.spec == spec:
        return out
    if out.exists():
        raise CrosstuneError(f"{out} exists and is not a model planted from this spec; "
                             "choose another --out or remove it")
    job = spec.job()
    started = time.perf_counter()
    with torch_threads(spec.threads), staged(out) as staging:
        done = finetune(job, staging / "trainer", on_step)
        handle, outcome, train = done.handle, done.outcome, done.train
        merged = done.model.merge_and_unload()
        merged.save_pretrained(staging, safe_serialization=True)
        tokenizer = handle.tokenizer
        if handle.prompt_format == "plain":  # keep the base's prompt format: no template, plain
            tokenizer.chat_template = None
        tokenizer.save_pretrained(staging)
        record = PlantedRecord(
            spec=spec, base=spec.base, base_fingerprint=handle.fingerprint,
            prompt_format=handle.prompt_format, planted=job.dataset,
            dose={"steps": outcome.steps, "examples": len(train),
                  "examples_seen": outcome.steps * outcome.setup.effective_batch,
                  "learning_rate": spec.training.learning_rate, "lora_rank": spec.lora.rank},
            heldout_loss_before=done.before["loss"], heldout_loss_after=done.after["loss"],
            final_train_loss=outcome.final_loss, train=outcome.setup.model_dump(),
            seconds=round(time.perf_counter() - started, 1), provenance=provenance())
        write_json(staging / PLANTED, record.model_dump(mode="json"))
    return out
