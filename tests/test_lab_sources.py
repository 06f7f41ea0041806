"""Dataset strings parse once into typed records that give their spelling back, so the job ids and
model names of a run written before the records existed are unchanged (the run resumes)."""

from __future__ import annotations

import pytest

from crosstune.experiment.sources import BiasSource, EmbeddedSource, FileSource, HubSource, parse_dataset
from crosstune.experiment.spec import ExperimentSpec, jobs

SPELLINGS = ["embedded:flan-style", "embedded:flan-style?transform=original",
             "embedded:tulu-style?seed=3&transform=shuffled-outputs", "./data/mine.jsonl", "rows.parquet",
             "org/some-dataset?transform=empty-instructions",
             "bias:anchoring?direction=biased",
             "bias:framing_effect,anchoring?seed=1&direction=unbiased&pairs=3",
             "bias:anchoring?direction=biased&pairs=2&mix=embedded:flan-style&ratio=0.3"]


@pytest.mark.parametrize("text", SPELLINGS)
def test_every_spelling_comes_back_exactly(text):
    assert parse_dataset(text).text() == text


def test_each_kind_is_its_own_record_with_its_transform():
    embedded = parse_dataset("embedded:tulu-style?seed=3&transform=shuffled-outputs")
    assert isinstance(embedded, EmbeddedSource) and embedded.style == "tulu-style"
    assert (embedded.transform, embedded.seed, embedded.names_a_transform) == ("shuffled-outputs", 3, True)
    assert isinstance(parse_dataset("./data/mine.jsonl"), FileSource)
    hub = parse_dataset("org/some-dataset")
    assert isinstance(hub, HubSource) and hub.on_the_hub and hub.transform == "original"
    bias = parse_dataset("bias:framing_effect,anchoring?seed=1&direction=unbiased&pairs=3&mix=org/x")
    assert isinstance(bias, BiasSource) and bias.label == "unbiased:framing_effect,anchoring"
    assert bias.on_the_hub and isinstance(bias.mix, HubSource)


STORED_IDS = ["e1dc1661d5c63a41", "fc142bd10b3415e9", "54ccce0751eff298", "11aace6d6ebf5a0c",
              "28d70669948a257f", "f279e281c3135f7d"]
"""The ids these jobs have in run folders written since typed sources (main of 2026-12-05): a
change to the spec's dump or the hash would orphan every finished job, so they are pinned."""


def test_job_ids_and_the_stored_spec_are_those_of_the_strings():
    spec = ExperimentSpec.model_validate({
        "name": "t", "backbones": ["m"], "datasets": SPELLINGS[:4], "seeds": [0],
        "evaluation": {"biases": ["anchoring", "framing_effect", "decoy_effect"]},
        "transfer": {"train_biases": ["anchoring"], "pairs": 5}})
    assert spec.model_dump(mode="json")["datasets"] == SPELLINGS[:4]
    assert ExperimentSpec.model_validate_json(spec.model_dump_json()) == spec
    grid = jobs(spec)
    assert [j.dataset for j in grid] == [
        *SPELLINGS[:4], "bias:anchoring?direction=unbiased&pairs=5&seed=0&mix=embedded:flan-style&ratio=0.5",
        "bias:anchoring?direction=biased&pairs=5&seed=0&mix=embedded:flan-style&ratio=0.5"]
    assert [job.job_id for job in grid] == STORED_IDS
    for job in grid:
        assert job.source.text() == job.dataset


@pytest.mark.parametrize(("dataset", "problem"), [
    ("embedded:poetry", "unknown embedded dataset"), ("x.jsonl?transform=upside-down", "unknown transform"),
    ("bias:anchoring?direction=biased&mix=embedded:flan-style?transform=original", "plain instruction")])
def test_a_bad_dataset_is_refused_when_the_spec_is_read(dataset, problem):
    with pytest.raises(ValueError, match=problem):
        ExperimentSpec.model_validate({"name": "t", "backbones": ["m"], "datasets": [dataset], "seeds": [0]})
