"""The spec's [evaluation] section is the evaluation config, and a run is one library call."""

from __future__ import annotations

import json

import pytest

from crosstune.eval_config import EvalConfig
from crosstune.experiment.spec import EvaluationSpec, ExperimentSpec
from crosstune.lab.experiment import CheckedSpec, check_spec, claim_run_folder

BASE = {"name": "t", "backbones": ["m"], "datasets": ["embedded:flan-style"], "seeds": [0]}


def test_the_evaluation_section_is_an_eval_config_with_the_grid_default_of_3_pairs():
    section = EvaluationSpec()
    assert isinstance(section, EvalConfig)
    assert section.scoring().model_dump() == EvalConfig(pairs=3).model_dump()
    assert section.server is None  # evaluated here, not through a server


def test_a_grid_can_set_method_metric_and_orders_and_a_bad_value_is_named():
    spec = ExperimentSpec.model_validate({**BASE, "evaluation": {"method": "generate", "metric": "linear",
                                                                 "orders": 1}})
    e = spec.evaluation
    assert (e.method, e.metric, e.orders) == ("generate", "linear", 1)
    with pytest.raises(ValueError, match="metric"):
        ExperimentSpec.model_validate({**BASE, "evaluation": {"metric": "median"}})


def test_a_stored_spec_names_the_new_settings_only_when_they_are_set(tmp_path):
    claim_run_folder(ExperimentSpec.model_validate(BASE), tmp_path / "old")
    stored = json.loads((tmp_path / "old" / "spec.json").read_text())
    assert set(stored["evaluation"]) == {"biases", "pairs", "seed", "scenarios"}  # as before they existed
    claim_run_folder(ExperimentSpec.model_validate({**BASE, "evaluation": {"orders": 1}}), tmp_path / "new")
    assert json.loads((tmp_path / "new" / "spec.json").read_text())["evaluation"]["orders"] == 1


def test_check_spec_returns_the_checked_spec_that_a_run_takes(saved_tiny_model):
    spec = ExperimentSpec.model_validate({**BASE, "backbones": [str(saved_tiny_model)],
                                          "evaluation": {"biases": ["anchoring"], "pairs": 1}})
    checked = check_spec(spec, fetch=False)
    assert checked == CheckedSpec(spec, None)
