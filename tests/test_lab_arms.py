"""Format-only arms: transforms row by row, held-out items disjoint from training, lm-eval accuracy
and the quality gate on tiny models, the per-arm table on a hand-built run."""

import json
import random

import numpy as np
import pandas as pd
import pytest

from crosstune.errors import CrosstuneError
from crosstune.experiment.embedded_data import STYLES, generate_items, heldout_items
from crosstune.experiment.sources import parse_dataset as parse_source
from crosstune.experiment.spec import AccuracySpec, ExperimentSpec, jobs
from crosstune.experiment.transforms import apply_transform, derangement
from crosstune.lab import task_accuracy
from crosstune.lab.datasets import EMBEDDED_SIZE, Example, load_examples
from crosstune.lab.job import run_job
from crosstune.models import load_model

FAST = {"max_steps": 2, "batch_size": 2, "max_length": 48}
INSTRUCTION_WORDS = ("Add ", "Sentiment", "Even or odd", "Sort ascending", "Antonym of", "Capital of",
                     "Could you", "What do you think", "Is ", "I have these numbers", "What's the opposite",
                     "For question")


@pytest.mark.parametrize("style", STYLES)
def test_original_transform_is_the_dataset_unchanged(style):
    assert load_examples(f"embedded:{style}?transform=original") == load_examples(f"embedded:{style}")


@pytest.mark.parametrize("style", STYLES)
def test_empty_instructions_keep_only_input_and_output_space_and_the_same_answers(style):
    original = load_examples(f"embedded:{style}")
    stripped = load_examples(f"embedded:{style}?transform=empty-instructions")
    assert len(stripped) == len(original)
    for before, after in zip(original, stripped, strict=True):
        (role, prompt), = after.prompt
        assert role == "user"
        assert prompt == f"{before.input}\nOutput space: {before.output_space}"
        assert not any(prompt.startswith(word) for word in INSTRUCTION_WORDS)
        assert after.completion == before.completion
        if style == "flan-style" and before.task in ("sentiment", "parity", "antonym", "capital"):
            assert before.completion in before.output_space.split(" / ")


def test_empty_instructions_need_rows_with_input_and_output_space():
    rows = [Example((("user", "Say hi"),), "hi"), Example((("user", "Say bye"),), "bye")]
    with pytest.raises(CrosstuneError, match=r"input.*output_space"):
        apply_transform(rows, "empty-instructions")


def test_derangement_moves_every_index_and_is_a_permutation():
    for n in (2, 3, 10, 257):
        order = derangement(n, random.Random(n))
        assert sorted(order) == list(range(n))
        assert all(source != i for i, source in enumerate(order))


def test_shuffled_outputs_pair_each_prompt_with_another_answer_of_the_same_task():
    rows = [Example((("user", f"q{i}"),), f"a{i}", task="even" if i % 2 == 0 else "odd")
            for i in range(40)]
    shuffled = apply_transform(rows, "shuffled-outputs", seed=3)
    assert [e.prompt for e in shuffled] == [e.prompt for e in rows]
    for i, example in enumerate(shuffled):
        donor = int(example.completion[1:])
        assert donor != i and donor % 2 == i % 2
    assert sorted(e.completion for e in shuffled) == sorted(e.completion for e in rows)
    assert apply_transform(rows, "shuffled-outputs", seed=3) == shuffled
    assert apply_transform(rows, "shuffled-outputs", seed=4) != shuffled


def test_shuffled_embedded_outputs_keep_the_task_format():
    original = load_examples("embedded:flan-style")
    shuffled = load_examples("embedded:flan-style?transform=shuffled-outputs&seed=1")
    by_task: dict[str, set[str]] = {}
    for e in original:
        by_task.setdefault(e.task, set()).add(e.completion)
    assert all(s.completion in by_task[s.task] for s in shuffled)
    wrong = sum(s.completion != o.completion for s, o in zip(shuffled, original, strict=True))
    assert wrong > len(original) * 0.4  # two-label tasks keep the right answer by chance half the time


@pytest.mark.parametrize("source, problem", [("embedded:flan-style?transform=upside-down", "transform"),
                                             ("embedded:flan-style?seed=x", "seed"),
                                             ("embedded:flan-style?colour=red", "unknown option")])
def test_bad_dataset_transform_is_named(source, problem):
    with pytest.raises(CrosstuneError, match=problem):
        parse_source(source)


def test_heldout_items_share_no_input_with_training_rows_and_have_their_answer_among_choices():
    train = {(i.task, i.input) for s in STYLES for i in generate_items(s, EMBEDDED_SIZE)}
    held = heldout_items(240, EMBEDDED_SIZE)
    assert len({(i.task, i.input) for i in held}) == 240
    assert not {(i.task, i.input) for i in held} & train
    assert all(i.terse_a in i.choices for i in held)
    assert {i.task for i in held} == {t for t, _ in train}


def test_heldout_task_file_targets_the_right_choice():
    rows = task_accuracy.heldout_rows(30)
    for row in (r for r in rows if r["task"] == "parity"):
        number = int(row["question"].rsplit(" ", 1)[1])
        assert row["choices"][row["target"]] == ("even" if number % 2 == 0 else "odd")
    for row, item in zip(rows, heldout_items(30, EMBEDDED_SIZE), strict=True):
        assert row["choices"][row["target"]] == item.terse_a
        assert len(set(row["choices"])) == len(row["choices"])


ACCURACY = {"heldout_size": 12, "batch_size": 4}


def test_lm_eval_accuracy_of_a_tiny_model_is_a_share_of_the_items_and_is_cached(causal_handle):
    spec = AccuracySpec(**ACCURACY)
    first = task_accuracy.cached_accuracy(causal_handle.model, causal_handle, spec)
    assert set(first) == {"crosstune_heldout"}
    assert 0 <= first["crosstune_heldout"] <= 1
    assert (first["crosstune_heldout"] * 12) == pytest.approx(round(first["crosstune_heldout"] * 12))
    assert task_accuracy.task_accuracy(causal_handle.model, causal_handle, spec) == first


def test_unknown_lm_eval_task_is_named(causal_handle):
    with pytest.raises(CrosstuneError, match="not lm-eval tasks"):
        task_accuracy.task_accuracy(causal_handle.model, causal_handle,
                                    AccuracySpec(tasks=["no_such_task_here"], **ACCURACY))


def test_gate_passes_at_the_stated_share_of_the_reference_gain():
    base, reference = {"a": 0.4, "b": 0.5}, {"a": 0.6, "b": 0.7}  # reference gains 0.2
    assert task_accuracy.gate(base, {"a": 0.5, "b": 0.6}, reference, 0.5)["passed"]  # gains 0.1
    failed = task_accuracy.gate(base, {"a": 0.45, "b": 0.55}, reference, 0.5)  # gains 0.05
    assert not failed["passed"]
    assert failed["gain"] == pytest.approx(0.05) and failed["reference_gain"] == pytest.approx(0.2)


def test_job_records_task_accuracy_and_a_failed_gate_unlearns_it(saved_tiny_model, tmp_path, monkeypatch):
    monkeypatch.setattr(task_accuracy, "reference_accuracy", lambda ref, spec: {"crosstune_heldout": 1.0})
    backbone = str(saved_tiny_model)
    spec = ExperimentSpec.model_validate({
        "name": "t", "backbones": [backbone], "datasets": ["embedded:flan-style"], "seeds": [0],
        "training": FAST, "quality": {"heldout": 8, "min_loss_drop": -100.0},
        "accuracy": {**ACCURACY, "reference": {backbone: "an-instruct-model"}, "min_share": 1.0}})
    status = json.loads((run_job(jobs(spec)[0], tmp_path) / "status.json").read_text())
    quality = status["quality"]
    base = quality["task_accuracy_before"]["crosstune_heldout"]
    assert quality["task_accuracy_before"] == task_accuracy.cached_accuracy(
        load_model(backbone).model, load_model(backbone), AccuracySpec(**ACCURACY))
    assert quality["gate"]["reference_gain"] == pytest.approx(1.0 - base)
    assert quality["gate"]["passed"] is (quality["gate"]["gain"] >= 1.0 - base)
    assert status["learned"] is quality["gate"]["passed"]


def test_reference_for_a_backbone_not_in_the_grid_is_refused():
    with pytest.raises(ValueError, match="not backbones"):
        ExperimentSpec.model_validate({"name": "t", "backbones": ["a"], "datasets": ["d"], "seeds": [0],
                                       "accuracy": {"reference": {"b": "c"}}})


def test_format_only_table_on_a_hand_built_run(tmp_path):
    from crosstune.experiment.run_folder import RunFolder
    from crosstune.lab.format_only import format_only_table, write_format_only
    from crosstune.store import slug, write_json

    arms = ["embedded:flan-style", "embedded:flan-style?transform=empty-instructions",
            "embedded:flan-style?transform=shuffled-outputs"]
    spec = ExperimentSpec.model_validate({"name": "t", "backbones": ["m"], "datasets": arms, "seeds": [0, 1],
                                          "accuracy": {}})
    accuracy = {arms[0]: (0.8, 0.6), arms[1]: (0.7, 0.7), arms[2]: (0.3, 0.5)}
    vectors = {(arms[0], 0): [0.0, 0.0], (arms[0], 1): [0.3, 0.4], (arms[1], 0): [0.0, 0.0],
               (arms[1], 1): [0.0, 0.0], (arms[2], 0): [1.0, 1.0], (arms[2], 1): [1.0, 1.0]}
    scores = {"m--untuned": [0.0, 0.0]}
    for job in jobs(spec):
        write_json(RunFolder(tmp_path, spec).job_folder(job) / "status.json", {
            "state": "done", "learned": True,
            "quality": {"task_accuracy_before": {"crosstune_heldout": 0.25},
                        "task_accuracy_after": {"crosstune_heldout": accuracy[job.dataset][job.seed]}}})
        scores[f"m--{slug(job.dataset)}--s{job.seed}"] = vectors[(job.dataset, job.seed)]
    score_table = pd.DataFrame(scores, index=["anchoring", "framing_effect"]).T
    table = format_only_table(RunFolder(tmp_path, spec), score_table).set_index("arm")
    assert list(table.index) == ["untuned", "original", "empty-instructions", "shuffled-outputs"]
    assert table.loc["untuned", "task_accuracy"] == pytest.approx(0.25)
    assert table.loc["original", "task_accuracy"] == pytest.approx(0.7)
    assert table.loc["shuffled-outputs", "task_accuracy"] == pytest.approx(0.4)
    # original's seeds are 0.5 apart (RMS of 0.3, 0.4 = sqrt(0.125)); that is the noise floor
    assert table.loc["original", "bias_distance_to_original"] == pytest.approx(np.sqrt(0.125))
    # empty-instructions: two models at 0, each 0 from seed 0 and sqrt(0.125) from seed 1
    assert table.loc["empty-instructions", "bias_distance_to_original"] == pytest.approx(np.sqrt(0.125) / 2)
    far = (np.sqrt(1.0) + np.sqrt((0.7**2 + 0.6**2) / 2)) / 2
    assert table.loc["shuffled-outputs", "bias_distance_to_original"] == pytest.approx(far)
    assert write_format_only(RunFolder(tmp_path, spec), score_table) is not None
    assert (tmp_path / "format_only.csv").exists()


def test_run_of_a_format_only_spec_writes_the_arm_table(saved_tiny_model, tmp_path):
    from typer.testing import CliRunner

    from crosstune.cli import app

    spec_file = tmp_path / "arms.toml"
    spec_file.write_text(
        f'name = "arms"\nbackbones = ["{saved_tiny_model}"]\nseeds = [0]\n'
        'datasets = ["embedded:flan-style", "embedded:flan-style?transform=shuffled-outputs"]\n'
        '[training]\nmax_steps = 2\nbatch_size = 2\nmax_length = 48\n[quality]\nheldout = 8\n'
        '[evaluation]\npairs = 1\nbiases = ["anchoring", "decoy_effect"]\n'
        '[accuracy]\nheldout_size = 6\nbatch_size = 4\n')
    result = CliRunner().invoke(app, ["run", str(spec_file), "--out", str(tmp_path / "runs"), "--no-analyze"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "runs" / "arms" / "format_only.csv").set_index("arm")
    assert list(table.index) == ["untuned", "original", "shuffled-outputs"]
    assert table["task_accuracy"].between(0, 1).all()
    assert table.loc[["untuned", "shuffled-outputs"], "bias_distance_to_original"].notna().all()
