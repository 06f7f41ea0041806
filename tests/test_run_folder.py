"""RunFolder lists a run's jobs and models; records read what the previous version wrote."""

from __future__ import annotations

import json

from crosstune.experiment.run_folder import UNTUNED, RunFolder, eval_model_name
from crosstune.experiment.spec import ExperimentSpec, jobs
from crosstune.store import read_status, write_json, write_status

SPEC = {"name": "t", "backbones": ["org/a", "b"], "seeds": [0, 1],
        "datasets": ["embedded:flan-style", "embedded:flan-style?transform=shuffled-outputs"]}

# status.json exactly as the version before records wrote it
OLD_DONE = {"job_id": "x", "backbone": "org/a", "dataset": "embedded:flan-style", "seed": 0, "data_seed": 0,
            "threads": 2, "provenance": {"created": "2026-11-01T00:00:00+00:00", "packages": {"torch": "2"},
                                         "git_revision": None, "python": "3.11", "platform": "linux",
                                         "torch_threads": 2},
            "state": "done", "learned": True,
            "quality": {"heldout_loss_before": 2.0, "heldout_loss_after": 1.5, "heldout_accuracy_before": 0.2,
                        "heldout_accuracy_after": 0.4, "task_accuracy_before": {"t": 0.25},
                        "task_accuracy_after": {"t": 0.5}},
            "train": {"steps": 2, "final_loss": 1.4, "seconds": 3.0}}
OLD_FAILED = {"job_id": "y", "backbone": "b", "dataset": "d", "seed": 1, "data_seed": 1, "threads": 2,
              "provenance": OLD_DONE["provenance"], "state": "failed", "reason": "loss is NaN"}


def test_models_are_every_backbone_untuned_then_each_finished_job_in_grid_order(tmp_path):
    spec = ExperimentSpec.model_validate(SPEC)
    write_json(tmp_path / "spec.json", spec.model_dump(mode="json"))
    grid = jobs(spec)
    write_json(RunFolder(tmp_path).job_folder(grid[0]) / "status.json", OLD_DONE)
    write_json(RunFolder(tmp_path).job_folder(grid[1]) / "status.json", OLD_FAILED)
    run = RunFolder(tmp_path)
    assert [j.status.state if j.status else None for j in run.jobs()][:3] == ["done", "failed", None]
    models = run.models()
    assert [m.name for m in models] == ["org-a--untuned", "b--untuned",
                                        f"org-a--{grid[0].dataset.replace(':', '-')}--s{grid[0].seed}"]
    untuned, _, tuned = models
    assert untuned.instruction == UNTUNED and untuned.adapter is None and untuned.learned is None
    assert untuned.eval_folder == tmp_path / "base" / "org-a"
    assert tuned.adapter == tmp_path / "jobs" / grid[0].job_id / "adapter"
    assert tuned.eval_folder == tmp_path / "jobs" / grid[0].job_id / "eval"
    assert tuned.learned is True and tuned.job.status.quality.task_accuracy_after == {"t": 0.5}
    assert not tuned.evaluated and run.eval_folders() == {}


def test_a_status_reads_as_the_old_version_wrote_it_and_is_written_with_the_same_keys(tmp_path):
    for old, added in ((OLD_DONE, {}), (OLD_FAILED, {"learned": False})):  # a failed job learned nothing
        write_json(tmp_path / "status.json", old)
        status = read_status(tmp_path)
        write_status(tmp_path, status)
        assert json.loads((tmp_path / "status.json").read_text()) == {**old, **added}
    assert read_status(tmp_path).quality is None and read_status(tmp_path).provenance.torch_threads == 2


def test_single_evaluations_are_named_name_plus_adapter_folder():
    assert eval_model_name("m", None) == "m"
    assert eval_model_name("m", "/x/runs/lora-7") == "m+lora-7"
