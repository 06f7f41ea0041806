"""A grid evaluated through a server: each model's name and URL there, and the server command.

`[evaluation.server]` names the server and how each model of the run is called on it: the
untuned backbone (`{backbone}` by default, vLLM's `--served-model-name`) and each finetune
(`{job_id}` by default, one `--lora-modules JOB_ID=ADAPTER` each). `vllm_command` prints the
exact vLLM command for a run folder's adapters; `llama_cpp_config` writes the llama.cpp server's
`--config_file` (every model under its alias, each finetune's adapter converted to GGUF), which
stands in for vLLM where no GPU is (the tests). Torch-free except the GGUF conversion.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from urllib.parse import urlparse

from crosstune.errors import CrosstuneError
from crosstune.experiment.run_folder import RunFolder, RunModel
from crosstune.experiment.spec import ExperimentSpec, ServerSpec
from crosstune.served.settings import ServedSettings


def server_of(spec: ExperimentSpec) -> ServerSpec:
    if spec.evaluation.server is None:
        raise CrosstuneError("the spec has no [evaluation.server] section; add one with base_url "
                             "(see docs/served.md)")
    return spec.evaluation.server


def served_name(spec: ExperimentSpec, model: RunModel) -> str:
    """What the server calls `model` ([evaluation.server] untuned / finetuned; without that
    section the defaults: the backbone as written, the job id)."""
    fields = ServerSpec.model_fields
    server = spec.evaluation.server
    untuned = server.untuned if server else fields["untuned"].default
    finetuned = server.finetuned if server else fields["finetuned"].default
    if model.job is None:
        return untuned.format(backbone=model.backbone, name=model.name)
    job = model.job.spec
    return finetuned.format(job_id=job.job_id, backbone=job.backbone, dataset=job.dataset,
                                   seed=job.seed, name=model.name)


def served_settings_for(spec: ExperimentSpec, model: RunModel) -> ServedSettings:
    """The ServedSettings that ask `model` on the run's server."""
    server = server_of(spec)
    tokenizer = server.tokenizer.format(backbone=model.backbone) if server.tokenizer else None
    return ServedSettings(
        model=served_name(spec, model), base_url=server.base_urls.get(model.backbone, server.base_url),
        endpoint=server.endpoint, tokenizer=tokenizer, api_key_env=server.api_key_env,
        concurrency=server.concurrency, timeout=server.timeout, retries=server.retries,
        top_logprobs=server.top_logprobs)


def _backbone_source(backbone: str) -> str:
    """What vLLM loads for a backbone: the converted folder of an embedded model, else as given."""
    from crosstune.models.embedded import EMBEDDED, cached_folder

    return str(cached_folder(backbone)) if backbone in EMBEDDED else backbone


def vllm_command(run_dir: Path) -> list[str]:
    """One `vllm serve` line per backbone: the untuned backbone under its name, every finished
    finetune's adapter under its name, log-probabilities for k tokens."""
    run = RunFolder(run_dir)
    spec = run.valid_spec()
    server = server_of(spec)
    lines = []
    for backbone in spec.backbones:
        models = [m for m in run.models() if m.backbone == backbone]
        adapters = [(served_name(spec, m), m.job.adapter.resolve()) for m in models
                    if m.job is not None and m.job.done]
        url = urlparse(server.base_urls.get(backbone, server.base_url))
        args = ["vllm", "serve", _backbone_source(backbone),
                "--served-model-name", served_name(spec, run.untuned(backbone)),
                "--host", url.hostname or "0.0.0.0", "--port", str(url.port or 8000),
                "--max-logprobs", str(server.top_logprobs)]
        if adapters:
            args += ["--enable-lora", "--max-lora-rank", str(max(spec.lora.rank, 8)),
                     "--max-loras", str(min(len(adapters), 8)), "--lora-modules",
                     *[f"{name}={path}" for name, path in adapters]]
        lines.append(shlex.join(args))
    return lines


def llama_cpp_config(run_dir: Path, gguf: Path, out: Path, threads: int = 2) -> Path:
    """A llama.cpp server `--config_file` serving every model of a one-backbone run under its
    name: the backbone's GGUF, each finished finetune's adapter converted to a GGUF LoRA."""
    from crosstune.models.gguf_lora import adapter_to_gguf, llama_heads

    run = RunFolder(run_dir)
    spec = run.valid_spec()
    server = server_of(spec)
    url = urlparse(server.base_url)
    out.mkdir(parents=True, exist_ok=True)
    common = {"model": str(gguf), "logits_all": True, "n_threads": threads, "n_ctx": 2048}
    models = []
    heads = llama_heads(gguf) if any(j.done for j in run.jobs()) else None
    for model in run.models():
        entry = {**common, "model_alias": served_name(spec, model)}
        if model.job is not None and model.job.done:
            entry["lora_path"] = str(adapter_to_gguf(model.job.adapter, gguf,
                                                     out / f"{model.job.spec.job_id}.gguf", heads))
        models.append(entry)
    config = {"host": url.hostname or "127.0.0.1", "port": url.port or 8000, "models": models}
    path = out / "llama-cpp-config.json"
    path.write_text(json.dumps(config, indent=2))
    return path
