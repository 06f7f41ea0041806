"""The RL arm wired end to end on a tiny model: GRPO steps, measurements, the grid, the report."""

import json

import pandas as pd

from crosstune.experiment import rl as F
from crosstune.experiment.run_folder import RunFolder
from crosstune.experiment.spec import ExperimentSpec
from crosstune.lab.experiment import collect, evaluate_all, train_all, training_effect
from crosstune.lab.rl.tables import write_rl
from crosstune.report.run_sections import rl_section

RL = {"rewards": ["brier"], "question_sets": ["feasible"], "group_size": 2, "prompts_per_step": 1,
      "steps": 2, "learning_rate": 1e-3, "max_completion_length": 4, "train_questions": 4,
      "eval_questions": 4, "census_every": 1, "census_questions": 2, "census_samples": 1,
      "bootstrap": 10}


def test_a_grpo_arm_trains_is_measured_evaluated_on_the_suite_and_reported(saved_tiny_model, tmp_path):
    spec = ExperimentSpec.model_validate({
        "name": "rl", "backbones": [str(saved_tiny_model)], "seeds": [0], "rl": RL,
        "evaluation": {"pairs": 1, "biases": ["anchoring"]}})
    train_all(RunFolder(tmp_path, spec))
    run = RunFolder(tmp_path, spec)
    [job] = run.jobs()
    status = json.loads((job.folder / "status.json").read_text())
    assert status["state"] == "done"
    assert status["train"]["steps"] == 2 and status["train"]["completions"] == 4
    assert (job.folder / "adapter" / "adapter_model.safetensors").is_file()
    assert not list((tmp_path / "jobs").glob(".*"))  # nothing half-written beside it
    census = pd.read_csv(job.folder / F.RL_FOLDER / F.CENSUS_CSV)
    assert list(census.step) == [0, 1, 2]
    assert census.filter(like="share_").sum(axis=1).round(6).eq(1).all()

    evaluate_all(run)  # the bias suite, before (untuned) and after (the RL finetune)
    scores, labels = collect(run)
    assert len(scores) == 2 and set(labels.instruction) == {"untuned", "rl-brier:feasible"}
    assert training_effect(spec, tmp_path).empty  # no instruction data held out: no row of NaNs

    table = write_rl(run)
    assert {"stated", "option"} == set(table.kind)
    assert {"accuracy", "stated_ece", "stated_brier", "smooth_ece", "brier"} <= set(table.metric)
    section = rl_section(tmp_path)
    assert section is not None and section.figure  # the format-entropy curve
