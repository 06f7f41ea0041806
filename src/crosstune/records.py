"""The records that cross module borders and land on disk: provenance, an evaluation's manifest,
a training job's status with its quality check, the backbone-vs-instruction test.

Typed so that readers use attributes instead of keys; `crosstune.store` is the only module that
turns them into JSON and back. Every field a file written by an earlier version may lack has a
default, so existing run folders still load (the JSON keys are the ones written before).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Provenance(BaseModel):
    """What produced a result: the one provenance block of every manifest and status file."""

    created: str = ""
    packages: dict[str, str | None] = {}
    git_revision: str | None = None
    python: str = ""
    platform: str = ""
    torch_threads: int | None = None


class ModelBlock(BaseModel):
    """The evaluated model as its respondent describes it (a respondent need only give a
    fingerprint); what it adds (source, dtype, server settings) is kept as written."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    name: str | None = None
    adapter: str | None = None
    fingerprint: str | None = None


class PositionPreference(BaseModel):
    """Mean probability on the first and last presented letter, and per number of options."""

    p_first: float | None = None
    p_last: float | None = None
    p_uniform: float | None = None
    by_n_options: dict[str, list[float]] = {}


class EvalTiming(BaseModel):
    load: float = 0.0
    evaluate: float = 0.0


class EvalManifest(BaseModel):
    """An evaluation folder's manifest. `config` is the EvalConfig as JSON and `identity` what
    `store.claim` compares, both kept as the JSON they are on disk."""

    model_config = ConfigDict(extra="allow")

    kind: Literal["crosstune-eval"] = "crosstune-eval"
    model: ModelBlock = ModelBlock()
    config: dict[str, Any] = {}
    scorer: str | None = None
    shared_prefixes: bool | None = None
    answer_cue: str | None = None
    n_pairs: int | None = None
    n_prompts: int | None = None
    orders: int | None = None
    metric: str | None = None
    position_preference: PositionPreference = PositionPreference()
    provenance: Provenance | None = None
    identity: dict[str, Any] | None = None
    timing_s: EvalTiming | None = None


class Gate(BaseModel):
    """The quality gate: the finetune's task-accuracy gain against a reference model's."""

    reference: str
    reference_accuracy: dict[str, float]
    gain: float
    reference_gain: float
    min_share: float
    passed: bool


class Quality(BaseModel):
    """A finished job's quality check: held-out loss and token accuracy before and after, task
    accuracy per task (with [accuracy]) and the gate (with a reference model)."""

    heldout_loss_before: float | None = None
    heldout_loss_after: float | None = None
    heldout_accuracy_before: float | None = None
    heldout_accuracy_after: float | None = None
    task_accuracy_before: dict[str, float] | None = None
    task_accuracy_after: dict[str, float] | None = None
    gate: Gate | None = None

    @property
    def passed_gate(self) -> bool:
        """True without a gate: only a configured gate can fail a job."""
        return self.gate is None or self.gate.passed


class TrainingSetup(BaseModel):
    """How a job was trained: precision, devices, batch and accumulation, what truncation cut."""

    precision: str
    devices: int
    per_device_batch: int
    accumulation: int
    effective_batch: int
    gradient_checkpointing: bool
    deepspeed: str | None
    answers_cut_by_max_length: int


class JobStatus(BaseModel):
    """How a job ended: `done` (with its quality check) or `failed` (with the reason)."""

    job_id: str = ""
    backbone: str | None = None
    dataset: str | None = None
    seed: int | None = None
    data_seed: int | None = None
    threads: int | None = None
    provenance: Provenance | None = None
    state: Literal["done", "failed"]
    learned: bool = False
    reason: str | None = None
    quality: Quality | None = None
    train: dict[str, Any] | None = None
    """Steps, final loss, the trainer's setup and seconds: reported, never read back."""

    @property
    def done(self) -> bool:
        return self.state == "done"


class BackboneTest(BaseModel):
    """Is mean eta^2(backbone) - mean eta^2(instruction) larger than chance? `p_value` tests
    "pretraining explains more", `p_instruction` the reverse; `null` says how the null was drawn."""

    gap: float
    p_value: float
    p_instruction: float
    null: str
    n_relabellings: int
    exact: bool
    biases_tested: int | None = None
