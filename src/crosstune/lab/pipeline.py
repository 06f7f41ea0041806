"""`crosstune run` as one library call: a checked spec's grid, then the analysis of its run folder.

The command line only parses, shows progress and prints what comes back; whether a run has enough
models to analyse, and with which neutral band, is decided here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from crosstune.analysis.attribute import MIN_MODELS, Analysis
from crosstune.analysis.inputs import cross_run
from crosstune.choices import Executor, Impute, MetricName
from crosstune.errors import CrosstuneError
from crosstune.experiment.spec import ExperimentSpec
from crosstune.lab.experiment import (
    CheckedSpec,
    RunOutcome,
    RunProgress,
    plan,
    run_experiment,
    training_effect,
)
from crosstune.report.folder import run_analysis
from crosstune.store import ANALYSIS, SPEC, read_json


@dataclass(frozen=True)
class RunReport:
    """What a finished `crosstune run` has to say."""

    outcome: RunOutcome
    jobs: pd.DataFrame
    """The job table after the run: id, factors, state."""
    training_effect: pd.DataFrame
    """Per backbone and dataset: held-out loss and token accuracy before -> after."""
    analysis: Analysis | None
    not_analysed: str | None = None
    """Why there is no analysis when it was asked for: too few models (not an error)."""
    analysis_error: str | None = None
    """The analysis refused the run folder (the run itself is finished and kept)."""


def run_and_analyze(checked: CheckedSpec, run_dir: Path, executor: Executor = "local",
                    address: str | None = None, progress: RunProgress | None = None,
                    analyze: bool = True) -> RunReport:
    """Train and evaluate the grid (resuming), then analyse the run folder into RUN/analysis."""
    spec = checked.spec
    outcome = run_experiment(checked, run_dir, executor, address, progress)
    analysis, skipped, error = None, None, None
    if analyze:
        try:
            learned = len(cross_run(run_dir)[0].scores)
            if learned < MIN_MODELS:
                skipped = f"only {learned} finetuned model(s) learned: too few to analyse"
            else:
                analysis = analyze_folder(run_dir, spec.evaluation.metric)
        except CrosstuneError as err:
            error = str(err)
    return RunReport(outcome, plan(spec, run_dir), training_effect(spec, run_dir), analysis, skipped, error)


def analyze_folder(run_dir: Path, metric: MetricName, permutations: int = 999, impute: Impute = "none",
                   keep_unlearned: bool = False) -> Analysis:
    """A run folder's analysis into RUN/analysis, the neutral band and minimum effect the metric's."""
    return run_analysis([run_dir], run_dir / ANALYSIS, impute=impute, permutations=permutations,
                        metric=metric, keep_unlearned=keep_unlearned)


def run_metric(run_dir: Path) -> MetricName:
    """The headline metric of a run folder's scores; `expected` when its spec cannot be read."""
    try:
        return ExperimentSpec.model_validate(read_json(run_dir / SPEC)).evaluation.metric
    except (ValidationError, CrosstuneError):
        return "expected"
