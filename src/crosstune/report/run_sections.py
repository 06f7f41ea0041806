"""Report sections that a run folder's own files support: position preference, format-only arms
and bias transfer. Each appears only when its files are there, so an older run folder still reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib
import pandas as pd

from crosstune.errors import CrosstuneError
from crosstune.experiment import rl
from crosstune.experiment.run_folder import FACTORS, UNTUNED, RunFolder, RunModel
from crosstune.report import section_plots
from crosstune.store import (
    FORMAT_ONLY,
    POSITION_COLUMNS,
    POSITIONS,
    TRANSFER,
    TRANSFER_COLUMNS,
    TRANSFER_RATIO,
    TRANSFER_RATIO_COLUMNS,
)


@dataclass(frozen=True, eq=False)  # holds frames: compared by identity
class Section:
    """One report section: its title, how to read it, a figure (base64 PNG) and captioned tables."""

    title: str
    note: str
    figure: str | None = None
    tables: tuple[tuple[str, pd.DataFrame], ...] = ()


def _read(path: Path, columns: list[str]) -> pd.DataFrame | None:
    """A table crosstune wrote, or None when it is absent or has no rows (nothing to show)."""
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        return None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise CrosstuneError(f"{path} cannot be read ({type(err).__name__}); "
                             "move it aside and rerun the command that wrote it") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CrosstuneError(f"{path} lacks column(s) {missing}: it was written by another crosstune "
                             "version; rerun the command that wrote it")
    return frame if len(frame) else None


def _factors(model: RunModel) -> dict[str, str]:
    """The model's labels as labels.csv writes them (an untuned backbone's `learned` empty)."""
    learned = "" if model.learned is None else str(model.learned)
    return {"backbone": model.backbone, "instruction": model.instruction, "seed": model.seed,
            "learned": learned}


def position_masses(run: Path) -> pd.DataFrame | None:
    """Every model's positions.csv, stacked with its factors; None when no model has one."""
    frames = []
    for model in RunFolder(run).collected():
        masses = _read(model.eval_folder / POSITIONS, POSITION_COLUMNS)
        if masses is not None:
            frames.append(masses.assign(model=model.name, **_factors(model)))
    return pd.concat(frames, ignore_index=True) if frames else None


def _weighted(rows: pd.DataFrame, column: str) -> pd.Series:
    """Mean over prompts: each option count's row weighted by its number of prompts."""
    total = rows.n_prompts.groupby(rows.model).sum()
    return (rows[column] * rows.n_prompts).groupby(rows.model).sum() / total


def position_table(masses: pd.DataFrame) -> pd.DataFrame:
    """Per model: mean P(first-listed), P(last-listed) and the uniform reference over all prompts,
    as in the evaluation manifest's `position_preference`, from `position_masses`."""
    first = masses[masses.position == 1]
    last = masses[masses.position == masses.n_options]
    summary = pd.DataFrame({"p_first": _weighted(first, "mass"), "p_last": _weighted(last, "mass"),
                            "p_uniform": _weighted(first, "uniform"),
                            "prompts": first.groupby("model").n_prompts.sum()})
    factors = masses.drop_duplicates("model").set_index("model")[FACTORS]
    return factors.join(summary).reset_index()


def backbone_positions(table: pd.DataFrame) -> pd.DataFrame:
    """Per backbone: the untuned model's P(first)/P(last) beside the mean of its finetunes."""
    rows = []
    for backbone, models in table.groupby("backbone", sort=False):
        untuned = models[models.instruction == UNTUNED]
        tuned = models[models.instruction != UNTUNED]
        rows.append({"backbone": backbone,
                     "untuned_p_first": untuned.p_first.mean(), "untuned_p_last": untuned.p_last.mean(),
                     "finetuned_p_first": tuned.p_first.mean(), "finetuned_p_last": tuned.p_last.mean(),
                     "finetunes": len(tuned), "p_uniform": models.p_uniform.mean()})
    return pd.DataFrame(rows)


def _pair(first: float, last: float) -> str:
    return "not measured" if pd.isna(first) else f"{first:.3f} / {last:.3f}"


def position_lines(run: Path) -> list[str]:
    """One line per backbone for the terminal; none when the run has no position tables."""
    masses = position_masses(run)
    if masses is None:
        return []
    lines = []
    for row in backbone_positions(position_table(masses)).itertuples(index=False):
        parts = [f"untuned {_pair(row.untuned_p_first, row.untuned_p_last)}"]
        if row.finetunes:
            tuned = _pair(row.finetuned_p_first, row.finetuned_p_last)
            parts.append(f"its {row.finetunes} finetune(s) {tuned}")
        lines.append(f"position preference, {row.backbone}: P(first) / P(last) {'; '.join(parts)} "
                     f"(uniform {row.p_uniform:.3f})")
    return lines


def _mass_curves(masses: pd.DataFrame) -> pd.DataFrame:
    """Per backbone: the untuned model's mass by position and the mean over its finetunes."""
    keys = ["backbone", "n_options", "position", "label", "uniform"]
    untuned = masses[masses.instruction == UNTUNED]
    tuned = masses[masses.instruction != UNTUNED]
    counts = tuned.groupby("backbone").model.nunique()
    mean = tuned.groupby(keys, as_index=False).mass.mean()
    mean["group"] = [f"finetuned (mean of {counts[b]})" for b in mean.backbone]
    return pd.concat([untuned[[*keys, "mass"]].assign(group=UNTUNED), mean], ignore_index=True)


def position_section(run: Path) -> Section | None:
    masses = position_masses(run)
    if masses is None:
        return None
    table = position_table(masses)
    return Section(
        "Position preference",
        "Mean probability each model puts on the first- and last-listed option letter, over every "
        "prompt of the suite, beside the uniform reference (1 / number of options). Showing every "
        "prompt in both option orders cancels this preference in the bias scores; the gap to uniform "
        "is how much was cancelled. Models evaluated before position tables existed are not listed.",
        section_plots.position_mass(_mass_curves(masses)),
        (("Per backbone: untuned vs mean of its finetunes", backbone_positions(table)),
         ("Per model", table)))


def format_only_section(run: Path) -> Section | None:
    table = _read(run / FORMAT_ONLY, ["backbone", "arm", "task_accuracy", "bias_distance_to_original"])
    if table is None:
        return None
    return Section(
        "Format-only arms: task accuracy and bias distance to the original arm",
        "One row per backbone and training arm (same dataset, instructions emptied or outputs "
        "shuffled; untuned: the backbone itself): held-out task accuracy, and the RMS bias-score "
        "distance of the arm's models to "
        "the original arm's models. The original row's distance is its own seed-to-seed spread, the "
        "noise floor (empty with one seed): an arm at or below it is as close to original as "
        "original's seeds are to each other.",
        tables=(("format_only.csv", table),))


def transfer_section(run: Path) -> Section | None:
    changes = _read(run / TRANSFER, TRANSFER_COLUMNS)
    ratios = _read(run / TRANSFER_RATIO, TRANSFER_RATIO_COLUMNS)
    if changes is None and ratios is None:
        return None
    tables = []
    if ratios is not None:
        tables.append(("Transfer ratio: mean held-out change / mean train change", ratios))
    if changes is not None:
        tables.append(("Per-bias change of the bias-injection arm", changes))
    return Section(
        "Bias transfer",
        "change: the bias-injection arm's mean score minus its reference's (versus the control arm "
        "or the untuned backbone), with a 95% CI; train rows are the biases the arm was trained on, "
        "heldout rows the others. ratio = mean held-out change / mean train change: near 0 the "
        "injected biases stayed where they were trained, near 1 they spread as far to held-out biases.",
        section_plots.transfer_changes(changes) if changes is not None else None,
        tuple(tables))


def rl_section(run: Path) -> Section | None:
    calibration = _read(run / rl.RUN_CALIBRATION, rl.CALIBRATION_COLUMNS)
    census = _read(run / rl.RUN_CENSUS, ["backbone", "reward", "questions", "seed", "step", "entropy_bits"])
    if calibration is None:
        return None
    tables = [("Feasible-set accuracy, repetition and parse rates: the difficulty arm",
               _read(run / rl.RUN_DIFFICULTY, [c for c in rl.CALIBRATION_COLUMNS if c != "kind"])),
              ("Calibration and accuracy per RL arm (stated confidence and option probabilities)",
               calibration)]
    if census is not None:
        tables.append(("Answer-format census per checkpoint", census))
    return Section(
        "RL arms",
        "GRPO finetunes, one arm per reward and training question set, all measured on the same "
        "feasible evaluation questions before and after training. kind = stated: the completion's own "
        "answer and stated confidence (accuracy counts an unreadable answer as wrong; ECE and Brier "
        "over completions that state a confidence); kind = option: the calibration probe's option "
        "probabilities. change = after - before, mean over seeds, with a t CI over seeds (empty with "
        "one seed). The figure is the entropy of the sampled completions' answer formats per "
        "checkpoint: a falling curve is format collapse.",
        section_plots.format_entropy(census) if census is not None else None,
        tuple((caption, table) for caption, table in tables if table is not None))


def run_sections(run: Path) -> list[Section]:
    """The sections this run folder has data for, in report order."""
    # names are text, not mathtext: a bias or backbone called "a$b" must not break a figure
    with matplotlib.rc_context({"text.parse_math": False}):
        found = [position_section(run), format_only_section(run), transfer_section(run), rl_section(run)]
    return [section for section in found if section is not None]
