"""`crosstune eval --model served:ID` as one call: check the server, then the usual pipeline."""

from __future__ import annotations

import time
from pathlib import Path

from crosstune.evaluate import (
    EvalConfig,
    EvalResult,
    build_pairs,
    count_prompts,
    evaluate_into,
)
from crosstune.paths import result_cache
from crosstune.progress import Progress
from crosstune.served.settings import ServedSettings
from crosstune.store import claim, slug


def default_folder(settings: ServedSettings) -> Path:
    """runs/eval-served-ID: apart from a local evaluation of a model of the same name."""
    return Path("runs") / f"eval-served-{slug(settings.model)}"


def evaluate_served(settings: ServedSettings, config: EvalConfig, folder: Path | None = None,
                    progress: Progress | None = None) -> tuple[EvalResult, Path]:
    """Check settings, biases, folder and cache, then the server, then ask every prompt."""
    from crosstune.respondents.served import connect

    pairs = build_pairs(config)
    folder = folder or default_folder(settings)
    claim(folder, "crosstune-eval")
    cache = result_cache()
    if progress:
        progress.stage(f"checking {settings.base_url} ({settings.model})")
    started = time.perf_counter()
    respondent = connect(settings, cache, generate=config.method == "generate")
    respondent.load_seconds = time.perf_counter() - started
    try:
        if progress:
            progress.stage(f"asking {count_prompts(pairs)} prompts", count_prompts(pairs))
        result = evaluate_into(folder, respondent, config, cache, progress and progress.advance,
                               pairs)
    finally:
        respondent.client.close()
    return result, folder
