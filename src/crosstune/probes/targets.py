"""The models a request names, opened as Backends: a model (local or `served:ID`), or every
model of a `crosstune run` folder.

A run folder's backbones are loaded once each: untuned first, then each finished adapter
switched in on the same loaded backbone. With a server (`--base-url`), a run folder's models
are asked on the server under the names its spec's `[evaluation.server]` gives them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from crosstune.engine.backend import DEFAULT_BATCHING, Backend, BackendOptions, Batching, open_backend
from crosstune.engine.cache import ResultCache
from crosstune.errors import CrosstuneError
from crosstune.experiment.run_folder import UNTUNED, RunFolder, is_run_folder
from crosstune.models import ModelHandle, load_model
from crosstune.models.adapters import attach_adapter
from crosstune.probes.interface import ModelRequest
from crosstune.served.settings import served_id
from crosstune.store import slug

MODELS_CSV = "models.csv"
"""The table of probed models (each_target's second result), in every probe folder that has one."""


@dataclass(frozen=True)
class Target:
    """One model to probe, with the factor labels of a cross-tuning run (empty otherwise)."""

    model: str
    backbone: str
    instruction: str = ""
    seed: str = ""
    learned: str = ""


def check_request(request: ModelRequest, probe: str) -> None:
    """Refuse, before any work, what the probe cannot read and options a run folder would
    ignore (its models carry their own adapters)."""
    if request.kind != "lm":
        raise CrosstuneError(f"the {probe} probe reads language models, not {request.kind} inputs")
    for source in request.models:
        if request.adapter is not None and is_run_folder(Path(source)):
            raise CrosstuneError(f"--adapter does not apply to run folder {source}: every finished "
                                 "adapter of the run is probed; to probe one adapter, give its "
                                 "backbone as the model")


def options(request: ModelRequest, batching: Batching = DEFAULT_BATCHING) -> BackendOptions:
    """How the request's models open: its loader options, its server, a local model's batching."""
    return BackendOptions(request.adapter, request.prompt_format, request.device, request.dtype,
                          request.trust_remote_code, request.served, batching=batching)


def load(request: ModelRequest, source: str) -> ModelHandle:
    """One local model of the request, loaded with the request's adapter, format, device, dtype
    (what only a loaded model has: its whole vocabulary)."""
    return load_model(source, request.adapter, request.prompt_format, request.device, request.dtype,
                      request.trust_remote_code)


def open_target(request: ModelRequest, source: str, cache: ResultCache | None = None,
                batching: Batching = DEFAULT_BATCHING) -> Backend:
    """One model of the request as a Backend (loaded, or its server checked)."""
    return open_backend(source, options(request, batching), cache)


def targets(request: ModelRequest, cache: ResultCache | None = None, batching: Batching = DEFAULT_BATCHING
            ) -> Iterator[tuple[Target, Backend]]:
    """Each model to probe, opened, in request order."""
    for source in request.models:
        if is_run_folder(Path(source)):
            yield from _run_targets(Path(source), request, cache, batching)
            continue
        name = slug(served_id(source) or Path(source).name or source)
        adapter = f"+{slug(Path(request.adapter).name)}" if request.adapter else ""
        backend = open_target(request, source, cache, batching)
        try:
            yield Target(name + adapter, source), backend
        finally:
            backend.close()


def _run_targets(run_dir: Path, request: ModelRequest, cache: ResultCache | None,
                 batching: Batching) -> Iterator[tuple[Target, Backend]]:
    from crosstune.engine.local import LocalBackend

    run = RunFolder(run_dir)
    models = run.models()
    spec = run.valid_spec()
    if request.served is not None:
        from crosstune.experiment.serving import served_name

        for model in models:
            backend = open_backend(f"served:{served_name(spec, model)}", options(request), cache)
            try:
                yield _target(model), backend
            finally:
                backend.close()
        return
    for backbone in spec.backbones:
        handle = load_model(backbone, device=request.device, dtype=request.dtype,
                            trust_remote_code=request.trust_remote_code)
        for model in (m for m in models if m.backbone == backbone):
            if model.job is not None:
                handle = attach_adapter(handle, model.job.adapter, name=model.job.spec.job_id)
            yield _target(model), LocalBackend(handle, cache, batching.token_budget, batching.batch_size)


def _target(model: Any) -> Target:
    if model.job is not None:
        return Target(model.name, model.backbone, model.job.spec.dataset, model.seed,
                      str(model.learned))
    return Target(model.name, model.backbone, model.instruction)


def each_target(request: ModelRequest, probe: Callable[[Backend], dict[str, pd.DataFrame]],
                cache: ResultCache | None = None, batching: Batching = DEFAULT_BATCHING
                ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Run `probe` on every target; its tables concatenated with a `model` column, and a model table."""
    tables: dict[str, list[pd.DataFrame]] = {}
    rows = []
    started = time.perf_counter()
    for target, backend in targets(request, cache, batching):
        loaded = time.perf_counter()
        for name, frame in probe(backend).items():
            tables.setdefault(name, []).append(frame.assign(model=target.model))
        rows.append({**asdict(target), "fingerprint": backend.fingerprint,
                     "prompt_format": backend.describe().get("prompt_format"),
                     "load_s": round(loaded - started, 2),
                     "probe_s": round(time.perf_counter() - loaded, 2)})
        started = time.perf_counter()
    merged = {name: pd.concat(frames, ignore_index=True) for name, frames in tables.items()}
    return merged, pd.DataFrame(rows)


def tuned_pairs(models: pd.DataFrame) -> list[tuple[str, str]]:
    """(finetuned model, its untuned backbone) for every finetune of a run folder."""
    base = {r.backbone: r.model for r in models.itertuples() if r.instruction == UNTUNED}
    return [(r.model, base[r.backbone]) for r in models.itertuples()
            if r.instruction not in ("", UNTUNED) and r.backbone in base]
