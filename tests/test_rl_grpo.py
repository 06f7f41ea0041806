"""The RL arm wired end to end on a tiny model: GRPO steps, measurements, the grid's folders."""

import json

import pandas as pd

from crosstune.lab.experiment import collect, evaluate_all, train_all
from crosstune.lab.job import run_job
from crosstune.lab.rl import files as F
from crosstune.lab.run_folder import RunFolder
from crosstune.lab.spec import ExperimentSpec, jobs

RL = {"rewards": ["brier"], "question_sets": ["feasible"], "group_size": 2, "prompts_per_step": 1,
      "steps": 2, "learning_rate": 1e-3, "max_completion_length": 4, "train_questions": 4,
      "eval_questions": 4, "census_every": 1, "census_questions": 2, "census_samples": 1,
      "bootstrap": 10}


def rl_spec(model_dir, **rl) -> ExperimentSpec:
    return ExperimentSpec.model_validate({
        "name": "rl", "backbones": [str(model_dir)], "seeds": [0], "rl": RL | rl,
        "evaluation": {"pairs": 1, "biases": ["anchoring"]}})


def test_a_grpo_job_trains_measures_and_writes_its_folder_whole(saved_tiny_model, tmp_path):
    job = jobs(rl_spec(saved_tiny_model))[0]
    folder = run_job(job, tmp_path)
    status = json.loads((folder / "status.json").read_text())
    assert status["state"] == "done"
    assert status["train"]["steps"] == 2 and status["train"]["completions"] == 4
    assert (folder / "adapter" / "adapter_model.safetensors").is_file()
    census = pd.read_csv(folder / F.RL_FOLDER / F.CENSUS_CSV)
    assert list(census.step) == [0, 1, 2]
    assert census.filter(like="share_").sum(axis=1).round(6).eq(1).all()
    stated = pd.read_csv(folder / F.RL_FOLDER / F.STATED_CSV)
    assert set(stated.when) == {"before", "after"} and "stated_ece" in set(stated.metric)
    option = pd.read_csv(folder / F.RL_FOLDER / F.OPTION_CSV)
    assert "smooth_ece" in set(option.metric)
    assert not list(tmp_path.glob("jobs/.*"))  # nothing half-written beside it


def test_an_rl_arm_is_a_model_of_the_grid_evaluated_on_the_bias_suite(saved_tiny_model, tmp_path):
    spec = rl_spec(saved_tiny_model)
    train_all(RunFolder(tmp_path, spec))
    run = RunFolder(tmp_path, spec)
    evaluate_all(run)
    scores, labels = collect(run)
    assert len(scores) == 2  # the untuned backbone and its RL finetune
    assert set(labels.instruction) == {"untuned", "rl-brier:feasible"}
