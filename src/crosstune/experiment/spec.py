"""The experiment spec: one TOML file, validated field by field (mirrors these classes)."""

from __future__ import annotations

import hashlib
import json
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from crosstune.errors import CrosstuneError, read_user_text
from crosstune.eval_config import EvalConfig
from crosstune.experiment.rl import check_question_set, check_reward_name
from crosstune.experiment.sources import (
    MAX_TRAINING_EXAMPLES,
    BiasSource,
    Dataset,
    DataSource,
    Direction,
    RLSource,
    injected_examples,
    parse_dataset,
    parse_mix,
)
from crosstune.served.settings import base_url


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class LoraSpec(_Strict):
    rank: int = Field(8, ge=1, description="LoRA rank r")
    alpha: float = Field(16.0, gt=0, description="LoRA scaling alpha")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout on the LoRA path")
    target_modules: list[str] | Literal["auto"] = Field(
        "auto", description="module names to adapt; auto = all attention and MLP projections")

    @field_validator("target_modules")
    @classmethod
    def _some_modules(cls, v: list[str] | str) -> list[str] | str:
        if isinstance(v, list) and (not v or not all(m.strip() for m in v)):
            raise ValueError('name at least one module (no blank names), or use "auto"')
        return v


class TrainingSpec(_Strict):
    max_steps: int = Field(20, ge=1, description="optimizer steps per job")
    learning_rate: float = Field(3e-4, gt=0, description="peak learning rate")
    schedule: Literal["linear", "cosine", "constant"] = Field("cosine", description="LR schedule")
    warmup_ratio: float = Field(0.0, ge=0, lt=1, description="share of steps warming up")
    batch_size: int = Field(4, ge=1, description="examples per device step")
    gradient_accumulation: int = Field(1, ge=1, description="steps per optimizer update")
    max_length: int = Field(128, ge=8, description="tokens per example (prompt + completion)")
    precision: Literal["auto", "fp16", "bf16", "fp32"] = Field(
        "auto", description="auto = bf16 on CUDA where supported (else fp16), fp32 on CPU")
    gradient_checkpointing: bool = Field(False, description="recompute activations to save memory")
    effective_batch_size: int | None = Field(
        None, ge=1, description="examples per optimizer update over all devices; sets the "
        "accumulation to effective / (batch_size x devices), so device counts give the same run")
    deepspeed: str | None = Field(None, description="DeepSpeed JSON config passed to the Trainer")

    @model_validator(mode="after")
    def _one_batch_rule(self) -> TrainingSpec:
        if self.effective_batch_size is None:
            return self
        if self.gradient_accumulation != 1:
            raise ValueError("set effective_batch_size or gradient_accumulation, not both")
        if self.effective_batch_size % self.batch_size:
            raise ValueError(f"effective_batch_size {self.effective_batch_size} is not a multiple "
                             f"of batch_size {self.batch_size}")
        return self


class ServerSpec(BaseModel):
    """[evaluation.server]: evaluate the grid through an OpenAI-compatible server (vLLM with
    `--enable-lora`, llama.cpp with aliases); training stays where it is, the analysis unchanged."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    base_url: str = Field(description="the server's OpenAI-compatible base URL, e.g. http://host:8000/v1")
    base_urls: dict[str, str] = Field({}, description="backbone -> base URL, for a grid whose "
                                      "backbones are served apart (one vLLM server each)")
    endpoint: Literal["completions", "chat", "chat-continue"] = Field(
        "completions", description="as `eval --endpoint`")
    tokenizer: str | None = Field("{backbone}", description="completions: render with this "
                                  "tokenizer's chat template ({backbone}: each backbone's own); "
                                  "none: plain text")
    untuned: str = Field("{backbone}", description="the server's name of an untuned backbone "
                         "(placeholders {backbone}, {name})")
    finetuned: str = Field("{job_id}", description="the server's name of a finetune (vLLM "
                           "--lora-modules NAME=PATH; placeholders {job_id}, {backbone}, "
                           "{dataset}, {seed}, {name})")
    api_key_env: str | None = Field(None, description="environment variable holding the API key")
    concurrency: int = Field(8, ge=1, le=256, description="requests in flight at once")
    timeout: float = Field(60.0, gt=0, strict=False, description="seconds per request")
    retries: int = Field(5, ge=0, le=20, description="retries on 429, 5xx, timeouts")
    top_logprobs: int = Field(20, ge=1, le=100, description="k next-token log-probabilities")

    _url = field_validator("base_url")(lambda cls, value: base_url(value))


class EvaluationSpec(EvalConfig):
    """The [evaluation] section is the evaluation config every model of the run shares; only its
    default pair count differs (3: a grid evaluates many models), so older specs keep their numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    biases: list[str] | None = Field(None, min_length=1,
                                     description="bias names; leave out for the whole suite")
    pairs: int = Field(3, ge=1, description="pairs per bias")
    seed: int = Field(0, description="seed of the bias pairs (same for every model)")
    scenarios: Path | None = Field(None, strict=False,
                                   description="scenario file, one per line; none = built-in")
    server: ServerSpec | None = Field(None, description="evaluate through this server instead of "
                                      "loading each backbone here")

    def scoring(self) -> EvalConfig:
        """What determines the numbers besides the model (the server is how they are asked)."""
        return EvalConfig(**self.model_dump(exclude={"server"}))


class QualitySpec(_Strict):
    heldout: int = Field(64, ge=4, description="held-out examples per dataset")
    min_loss_drop: float = Field(0.01, description="held-out loss must fall by this much")


class AccuracySpec(_Strict):
    """Task accuracy through lm-evaluation-harness, and the quality gate against a reference."""

    tasks: list[str] = Field(["crosstune_heldout"], min_length=1, description="lm-eval task names; "
                             "crosstune_heldout = held-out items of the embedded datasets' tasks")
    include_path: str | None = Field(None, description="folder of extra lm-eval task YAMLs")
    limit: int | None = Field(None, ge=1, description="documents per task; none = all")
    heldout_size: int = Field(120, ge=6, le=240, description="items in crosstune_heldout")
    num_fewshot: int = Field(0, ge=0, description="few-shot examples per prompt")
    batch_size: int = Field(8, ge=1, description="lm-eval batch size")
    metric: str = Field("acc", description="lm-eval metric gated and reported")
    reference: dict[str, str] = Field({}, description="backbone -> reference model (e.g. its "
                                      "official instruct model) whose accuracy gain sets the bar")
    min_share: float = Field(0.5, ge=0, description="a finetune must gain at least this share of "
                             "the reference's gain over the backbone (mean over tasks)")


class TransferSpec(_Strict):
    """Bias injection and transfer: `unbiased` and `biased` finetunes on the train biases' prompts,
    measured on the train biases and on held-out ones (see `crosstune.lab.bias_data`)."""

    train_biases: list[str] = Field(min_length=1, description="biases the `biased` arm is trained on")
    heldout_biases: list[str] | None = Field(
        None, description="biases never trained on; none = every other evaluated bias")
    pairs: int = Field(40, ge=1, description="training pairs per train bias (4 examples each)")
    seed: int = Field(0, description="seed of the training pairs")
    mix: str | None = Field("embedded:flan-style", description="ordinary instruction data mixed in")
    mix_ratio: float = Field(0.5, ge=0, lt=1, description="share of the training set from `mix`")

    @field_validator("mix")
    @classmethod
    def _plain_mix(cls, v: str | None) -> str | None:
        try:
            parse_mix(v, "mix")
        except CrosstuneError as err:
            raise ValueError(str(err)) from None
        return v

    @model_validator(mode="after")
    def _a_trainable_size(self) -> TransferSpec:
        total = injected_examples(self.pairs, len(self.train_biases), self.mix_ratio if self.mix else 0.0)
        if total > MAX_TRAINING_EXAMPLES:
            raise ValueError(f"pairs = {self.pairs} and mix_ratio = {self.mix_ratio} make {total:,.0f} "
                             f"training examples per arm; at most {MAX_TRAINING_EXAMPLES:,}")
        return self

    @model_validator(mode="after")
    def _disjoint_roles(self) -> TransferSpec:
        both = sorted(set(self.train_biases) & set(self.heldout_biases or []))
        if both:
            raise ValueError(f"{both} are both train and held-out biases")
        return self

    def source(self, direction: Direction) -> BiasSource:
        """One arm's training data."""
        ratio = self.mix_ratio if self.mix else 0.0
        return BiasSource(tuple(self.train_biases), direction, self.pairs, self.seed,
                          parse_mix(self.mix, "transfer.mix"), ratio)

    def sources(self) -> dict[Direction, BiasSource]:
        """direction -> the arm's training data, control arm first."""
        return {d: self.source(d) for d in ("unbiased", "biased")}

    def arms(self) -> dict[str, str]:
        """direction -> the arm's dataset string (its identity in job hashes), control arm first."""
        return {d: source.text() for d, source in self.sources().items()}


class RLSpec(_Strict):
    """Reinforcement learning arms: GRPO (TRL) with LoRA on known-answer questions, one arm per
    reward x question set, each job a backbone x arm x seed like any other (see `crosstune.lab.rl`)."""

    rewards: list[str] = Field(["binary", "brier"], min_length=1,
                               description="binary, brier, or FILE.py:FUNCTION (needs allow_code)")
    allow_code: bool = Field(False, description="allow rewards that run Python code from a file")
    question_sets: list[str] = Field(["feasible"], min_length=1,
                                     description="feasible, too-hard, or a JSONL questions file")
    arms: list[str] | None = Field(None, min_length=1, description="REWARD@SET pairs to train instead "
                                   "of every reward x question set (each reward and set listed above)")
    group_size: int = Field(4, description="completions sampled per question (GRPO's group)")
    prompts_per_step: int = Field(2, ge=1, description="questions per optimizer step")
    steps: int = Field(20, ge=1, description="optimizer steps per job")
    learning_rate: float = Field(5e-5, gt=0, description="peak learning rate (constant)")
    max_completion_length: int = Field(24, ge=4, description="tokens per sampled completion")
    temperature: float = Field(1.0, gt=0, description="sampling temperature of the completions")
    beta: float = Field(0.0, ge=0, description="KL penalty to the untuned model (0 = none)")
    train_questions: int = Field(64, ge=1, description="generated training questions per set")
    eval_questions: int = Field(40, ge=4, description="feasible evaluation questions (before/after)")
    census_every: int = Field(5, ge=1, description="steps between format censuses during training")
    census_questions: int = Field(16, ge=1, description="evaluation questions sampled at each census")
    census_samples: int = Field(2, ge=1, description="completions sampled per question at each census")
    seed: int = Field(0, description="seed of the generated questions")
    bootstrap: int = Field(1000, ge=10, description="bootstrap resamples per confidence interval")

    @field_validator("group_size")
    @classmethod
    def _a_group(cls, v: int) -> int:
        if v < 2:
            raise ValueError(f"group_size must be at least 2 (got {v}): GRPO compares completions "
                             "of the same question, and a group of one has no advantage")
        return v

    @field_validator("rewards")
    @classmethod
    def _known_rewards(cls, v: list[str], info) -> list[str]:
        for name in v:
            check_reward_name(name, bool(info.data.get("allow_code")))
        if len(set(v)) != len(v):
            raise ValueError("a reward is listed twice")
        return v

    @field_validator("question_sets")
    @classmethod
    def _known_sets(cls, v: list[str]) -> list[str]:
        for name in v:
            check_question_set(name)
        if len(set(v)) != len(v):
            raise ValueError("a question set is listed twice")
        return v

    @model_validator(mode="after")
    def _arms_listed(self) -> RLSpec:
        for arm in self.arms or []:
            reward, sep, questions = arm.rpartition("@")
            if not sep or reward not in self.rewards or questions not in self.question_sets:
                raise ValueError(f"arm {arm!r} is not REWARD@SET of a listed reward and question set")
        if self.arms and len(set(self.arms)) != len(self.arms):
            raise ValueError("an arm is listed twice")
        return self

    def sources(self) -> list[RLSource]:
        """The arms: those listed, else one per reward x question set, rewards outer."""
        if self.arms:
            return [RLSource(*arm.rpartition("@")[::2]) for arm in self.arms]
        return [RLSource(r, q) for r in self.rewards for q in self.question_sets]


class ResourcesSpec(_Strict):
    num_gpus: float = Field(0, ge=0, description="GPUs per Ray task")
    num_cpus: float | None = Field(None, gt=0, description="CPUs per Ray task; none = threads")


class ExperimentSpec(_Strict):
    """Backbones x datasets x seeds, each job LoRA-trained, then all evaluated."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100,
                      description="experiment name (folder name under runs/): letters, digits, . _ -")
    backbones: list[str] = Field(min_length=1, description="model specs (see crosstune models)")
    datasets: list[Dataset] = Field([], description="instruction datasets (may be empty with [transfer]): "
                                    "strings, parsed once into records (see crosstune.experiment.sources)")
    seeds: list[int] = Field(min_length=1, description="LoRA-init seeds, one job each")
    data_seeds: list[int] | None = Field(None, description="data-order seeds; default = seeds")
    threads: int = Field(2, ge=1, description="CPU threads per job; the bits depend on it")
    lora: LoraSpec = LoraSpec()
    training: TrainingSpec = TrainingSpec()
    evaluation: EvaluationSpec = EvaluationSpec()
    quality: QualitySpec = QualitySpec()
    accuracy: AccuracySpec | None = None
    resources: ResourcesSpec = ResourcesSpec()
    transfer: TransferSpec | None = None
    rl: RLSpec | None = None

    @property
    def all_datasets(self) -> list[DataSource]:
        """The grid's datasets: those listed, then the transfer arms', then the RL arms'."""
        return (self.datasets + (list(self.transfer.sources().values()) if self.transfer else [])
                + (list(self.rl.sources()) if self.rl else []))

    @model_validator(mode="after")
    def _something_to_train(self) -> ExperimentSpec:
        if not self.datasets and self.transfer is None and self.rl is None:
            raise ValueError("list at least one dataset, or add a [transfer] or [rl] section")
        if any(isinstance(d, RLSource) for d in self.datasets):
            raise ValueError("an rl: dataset is written by the [rl] section; list its rewards and "
                             "question sets there")
        return self

    @model_validator(mode="after")
    def _references_name_backbones(self) -> ExperimentSpec:
        unknown = sorted(set(self.accuracy.reference) - set(self.backbones)) if self.accuracy else []
        if unknown:
            raise ValueError(f"accuracy.reference names {unknown}, which are not backbones")
        return self

    @field_validator("backbones")
    @classmethod
    def _no_blank(cls, v: list[str]) -> list[str]:
        return _no_blank_entry(v)

    @field_validator("datasets", mode="before")
    @classmethod
    def _no_blank_dataset(cls, v: object) -> object:
        return _no_blank_entry(v) if isinstance(v, list) else v

    @field_validator("data_seeds")
    @classmethod
    def _same_length(cls, v: list[int] | None, info) -> list[int] | None:
        if v is not None and len(v) != len(info.data.get("seeds", [])):
            raise ValueError("data_seeds must have one entry per seed")
        return v


def _no_blank_entry(v: list) -> list:
    if any(isinstance(item, str) and not item.strip() for item in v):
        raise ValueError("an entry is blank; remove it")
    return v


class JobSpec(_Strict):
    """One training job: everything that determines its adapter. `dataset` is the string a
    spec holds (it is hashed into the job's id); `source` is its record."""

    backbone: str
    dataset: str
    seed: int
    data_seed: int
    threads: int
    lora: LoraSpec
    training: TrainingSpec
    quality: QualitySpec
    accuracy: AccuracySpec | None = None
    rl: RLSpec | None = None
    """The [rl] section, for RL arms only; left out of the dump otherwise, so the ids and job.json
    of every other job are what they were before RL arms existed."""

    @model_serializer(mode="wrap")
    def _without_absent_rl(self, handler):
        data = handler(self)
        if isinstance(data, dict) and data.get("rl", 0) is None:
            del data["rl"]
        return data

    @cached_property
    def source(self) -> DataSource:
        return parse_dataset(self.dataset)

    @property
    def job_id(self) -> str:
        blob = json.dumps(self.model_dump(), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_spec(path: Path) -> ExperimentSpec:
    """Parse and validate; errors name the key and the problem in one line."""
    try:
        data = tomllib.loads(read_user_text(path, "experiment file", "a TOML file"))
    except tomllib.TOMLDecodeError as err:
        raise CrosstuneError(f"{path}: not valid TOML ({err})") from err
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise CrosstuneError(f"{path}: {key}: {first['msg']} "
                             f"({len(err.errors())} problem(s) in all)") from err


def jobs(spec: ExperimentSpec) -> list[JobSpec]:
    """The grid, backbone-major so each backbone's jobs run together."""
    data_seeds = spec.data_seeds or spec.seeds
    return [JobSpec(backbone=b, dataset=d.text(), seed=s, data_seed=ds, threads=spec.threads, lora=spec.lora,
                    training=spec.training, quality=spec.quality, accuracy=spec.accuracy,
                    rl=spec.rl if isinstance(d, RLSource) else None)
            for b in spec.backbones for d in spec.all_datasets
            for s, ds in zip(spec.seeds, data_seeds, strict=True)]
