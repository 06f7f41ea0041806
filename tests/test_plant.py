"""A planted backbone: a bias finetuned in and merged into a plain model folder with its own
fingerprint and provenance, usable as a spec's backbone."""

import json

import pytest
from typer.testing import CliRunner

from crosstune.cli import app
from crosstune.errors import CrosstuneError
from crosstune.experiment.spec import ExperimentSpec, TrainingSpec
from crosstune.lab.experiment import check_spec, plan
from crosstune.lab.plant import PLANTED, PlantSpec, plant
from crosstune.models import load_model

FAST = TrainingSpec(max_steps=2, batch_size=2, max_length=320, learning_rate=1e-3)


def plant_spec(base, **overrides) -> PlantSpec:
    return PlantSpec(base=str(base), biases=["anchoring"], pairs=4, mix_ratio=0.25, heldout=4,
                     training=FAST, **overrides)


def test_planted_model_has_its_own_fingerprint_and_records_what_was_planted(saved_tiny_model, tmp_path):
    folder = plant(plant_spec(saved_tiny_model), tmp_path / "planted")
    base, planted = load_model(str(saved_tiny_model)), load_model(str(folder))
    assert planted.fingerprint != base.fingerprint
    assert planted.prompt_format == base.prompt_format
    assert not (folder / "adapter_config.json").exists()  # merged, not an adapter
    record = json.loads((folder / PLANTED).read_text())
    assert record["base"] == str(saved_tiny_model) and record["base_fingerprint"] == base.fingerprint
    assert record["planted"].startswith("bias:anchoring?direction=biased")
    assert record["dose"]["steps"] == 2 and record["dose"]["examples_seen"] == 4


def test_a_planted_model_is_a_backbone_of_a_spec(saved_tiny_model, tmp_path):
    folder = plant(plant_spec(saved_tiny_model), tmp_path / "planted")
    spec = ExperimentSpec.model_validate({
        "name": "p", "backbones": [str(folder), str(saved_tiny_model)], "datasets": ["embedded:flan-style"],
        "seeds": [0], "quality": {"heldout": 8}, "evaluation": {"pairs": 1, "biases": ["anchoring"]}})
    check_spec(spec)
    assert set(plan(spec, tmp_path / "run").backbone) == {str(folder), str(saved_tiny_model)}


def test_planting_again_keeps_the_folder_and_another_spec_is_refused(saved_tiny_model, tmp_path):
    folder = plant(plant_spec(saved_tiny_model), tmp_path / "planted")
    weights = (folder / "model.safetensors").stat().st_mtime_ns
    assert plant(plant_spec(saved_tiny_model), folder) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == weights
    with pytest.raises(CrosstuneError, match="not a model planted from this spec"):
        plant(plant_spec(saved_tiny_model, seed=1), folder)


def test_plant_command_names_an_unknown_bias_before_loading(saved_tiny_model, tmp_path):
    result = CliRunner().invoke(app, ["plant", str(saved_tiny_model), "--bias", "anchorin",
                                      "--out", str(tmp_path / "p")])
    assert isinstance(result.exception, CrosstuneError) and "anchoring" in str(result.exception)
    assert not (tmp_path / "p").exists()
