"""The format-only table: per backbone and arm, held-out task accuracy and bias-vector distance.

Does instruction tuning teach the task or only the format (arXiv 2305.11383)? Each arm trains on
a transform of the same dataset; if `empty-instructions` and `shuffled-outputs` land as close to
`original` as `original`'s own seeds are to each other, the bias vector follows the format.
"""

from __future__ import annotations

from itertools import product

import numpy as np
import pandas as pd

from crosstune.experiment.run_folder import UNTUNED, RunFolder
from crosstune.experiment.sources import PlainSource
from crosstune.store import FORMAT_ONLY, write_csv

COLUMNS = ["backbone", "dataset", "arm", "models", "learned", "task_accuracy", "task_accuracy_sd",
           "bias_distance_to_original"]


def rms_distance(a: pd.Series, b: pd.Series) -> float:
    """Root-mean-square score difference over the biases both vectors have (score units)."""
    both = pd.concat([a, b], axis=1).dropna()
    return float(np.sqrt(((both.iloc[:, 0] - both.iloc[:, 1]) ** 2).mean())) if len(both) else np.nan


def mean_distance(vectors: list[pd.Series], originals: list[pd.Series]) -> float:
    """Mean distance over all (arm model, original model) pairs, a model never with itself.

    For the `original` arm this is its seed-to-seed spread: the noise floor of the column."""
    pairs = [rms_distance(a, b) for a, b in product(vectors, originals) if a is not b]
    return float(np.mean(pairs)) if pairs else np.nan


def _mean_accuracy(record: dict[str, float]) -> float:
    return float(np.mean(list(record.values())))


def format_only_table(run: RunFolder, scores: pd.DataFrame) -> pd.DataFrame:
    """One row per (backbone, dataset, arm), `untuned` included; `scores` is collect()'s table."""
    spec = run.valid_spec()
    groups: dict[tuple[str, str, str], dict[str, list]] = {}
    untuned: dict[tuple[str, str], float] = {}
    for model in run.models():
        job = model.job
        source = job.spec.source if job is not None else None
        if job is None or source not in spec.datasets or not isinstance(source, PlainSource):
            continue  # transfer arms and bias-injection datasets are not format arms
        base, arm = source.base, source.transform
        group = groups.setdefault((model.backbone, base, arm), {"vectors": [], "accuracy": [], "learned": 0})
        group["learned"] += model.learned
        if model.name in scores.index:
            group["vectors"].append(scores.loc[model.name])
        quality = job.status.quality if job.status else None
        if quality is not None and quality.task_accuracy_after is not None:
            group["accuracy"].append(_mean_accuracy(quality.task_accuracy_after))
            untuned[(model.backbone, base)] = _mean_accuracy(quality.task_accuracy_before or {})
    rows = []
    for backbone, base in sorted({(b, d) for b, d, _ in groups}):
        originals = groups.get((backbone, base, "original"), {}).get("vectors", [])
        name = run.untuned(backbone).name
        base_vector = [scores.loc[name]] if name in scores.index else []
        rows.append({"backbone": backbone, "dataset": base, "arm": UNTUNED, "models": 1, "learned": np.nan,
                     "task_accuracy": untuned.get((backbone, base), np.nan), "task_accuracy_sd": np.nan,
                     "bias_distance_to_original": mean_distance(base_vector, originals)})
        for arm in ("original", "empty-instructions", "shuffled-outputs"):
            group = groups.get((backbone, base, arm))
            if group is None:
                continue
            accuracy = group["accuracy"]
            rows.append({"backbone": backbone, "dataset": base, "arm": arm, "models": len(group["vectors"]),
                         "learned": group["learned"],
                         "task_accuracy": float(np.mean(accuracy)) if accuracy else np.nan,
                         "task_accuracy_sd": float(np.std(accuracy, ddof=1)) if len(accuracy) > 1 else np.nan,
                         "bias_distance_to_original": mean_distance(group["vectors"], originals)})
    return pd.DataFrame(rows, columns=COLUMNS)


def write_format_only(run: RunFolder, scores: pd.DataFrame) -> pd.DataFrame | None:
    """Write RUN/format_only.csv when the spec trains any transformed dataset; else do nothing."""
    if not any(isinstance(d, PlainSource) and d.names_a_transform for d in run.valid_spec().datasets):
        return None
    table = format_only_table(run, scores)
    write_csv(run.path / FORMAT_ONLY, table)
    return table
