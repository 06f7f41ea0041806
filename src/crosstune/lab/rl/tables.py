"""The run's RL tables, from its RL jobs' own files: calibration (stated and option) and accuracy
per arm with CIs over seeds, the format census per checkpoint, and the difficulty arm.
Torch-free, so the report can read a run folder with it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from crosstune.experiment import rl as F
from crosstune.experiment.rl import ARM, CALIBRATION_COLUMNS
from crosstune.experiment.run_folder import RunFolder
from crosstune.experiment.sources import RLSource
from crosstune.store import write_csv

DIFFICULTY_METRICS = ("accuracy", "repetition_rate", "modal_answer_share", "parse_rate")


def _t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Mean +- t quantile x standard error over seeds; NaN with one seed."""
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return np.nan, np.nan
    half = stats.t.ppf((1 + level) / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean() - half), float(values.mean() + half)


def job_tables(run: RunFolder) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(metrics: one row per job x kind x metric x when, census: one row per job x step) of every
    finished RL job."""
    metrics, census = [], []
    for job in run.jobs():
        source = job.spec.source
        if not isinstance(source, RLSource) or not job.done:
            continue
        keys = {"backbone": job.spec.backbone, "reward": source.reward, "questions": source.questions,
                "seed": job.spec.seed}
        folder = job.folder / F.RL_FOLDER
        for kind, name in (("stated", F.STATED_CSV), ("option", F.OPTION_CSV)):
            metrics.append(pd.read_csv(folder / name).assign(kind=kind, **keys))
        census.append(pd.read_csv(folder / F.CENSUS_CSV).assign(**keys))
    return (pd.concat(metrics, ignore_index=True) if metrics else pd.DataFrame(),
            pd.concat(census, ignore_index=True) if census else pd.DataFrame())


def calibration_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per arm, kind and metric: mean before and after over seeds, and the change with a t CI;
    `seeds` counts the seeds where the metric is defined before and after (a stated-confidence
    metric is not, for a model that states no confidence)."""
    keys = [*ARM, "kind", "metric", "seed"]
    wide = metrics.set_index([*keys, "when"])["value"].unstack("when").reset_index()  # NaN kept
    rows = []
    for key, group in wide.groupby([*ARM, "kind", "metric"], sort=False, dropna=False):
        change = (group["after"] - group["before"]).to_numpy(float)
        low, high = _t_interval(change)
        rows.append(dict(zip([*ARM, "kind", "metric"], key, strict=True)) | {
            "seeds": int(np.isfinite(change).sum()), "before": group["before"].mean(),
            "after": group["after"].mean(),
            "change": np.nanmean(change) if np.isfinite(change).any() else np.nan,
            "change_ci_low": low, "change_ci_high": high})
    return pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)


def difficulty_table(calibration: pd.DataFrame) -> pd.DataFrame:
    """The difficulty arm: feasible-set accuracy, repetition and parse rates before and after,
    per reward and training question set."""
    rows = calibration[(calibration.kind == "stated") & calibration.metric.isin(DIFFICULTY_METRICS)]
    return rows.drop(columns="kind").reset_index(drop=True)


def write_rl(run: RunFolder) -> pd.DataFrame | None:
    """Write rl_calibration.csv, rl_census.csv and rl_difficulty.csv; None when the run has no RL job."""
    metrics, census = job_tables(run)
    if metrics.empty:
        return None
    calibration = calibration_table(metrics)
    write_csv(run.path / F.RUN_CALIBRATION, calibration)
    write_csv(run.path / F.RUN_CENSUS, census)
    write_csv(run.path / F.RUN_DIFFICULTY, difficulty_table(calibration))
    return calibration
