"""Bias injection and transfer: training data disjoint from the evaluation, answers that match the
known-answer respondents, the change and transfer-ratio arithmetic on hand-built tables, and a
transfer spec run end to end on a tiny model."""

import json

import numpy as np
import pandas as pd
import pytest

from crosstune.errors import CrosstuneError
from crosstune.evaluate import EvalConfig, build_pairs, evaluate
from crosstune.experiment.sources import BiasSource, parse_bias_source
from crosstune.experiment.spec import ExperimentSpec, TransferSpec, jobs
from crosstune.lab.bias_data import bias_examples, disjointness, trained_answer, training_pairs
from crosstune.lab.datasets import load_examples
from crosstune.lab.transfer import ArmScores, bias_changes, transfer_tables
from crosstune.respondents.base import Answer
from crosstune.respondents.scripted import Textbook
from crosstune.suite.prompts import ANSWER_CUE
from crosstune.suite.registry import all_biases
from crosstune.suite.types import OPTION_LABELS

EVERY_BIAS = [b.name for b in all_biases()]


def test_training_pairs_share_no_scenario_or_prompt_with_the_evaluation_of_every_bias():
    train = training_pairs(BiasSource(tuple(EVERY_BIAS), "biased", pairs=20, seed=0))
    for seed in (0, 1):
        overlap = disjointness(train, build_pairs(EvalConfig(pairs=20, seed=seed)))
        assert overlap["train_pairs"] == 20 * len(EVERY_BIAS)
        assert overlap["shared_scenarios"] == 0 and overlap["shared_prompts"] == 0
    assert all(p.scenario.startswith("train-") for p in train)


def test_disjointness_counts_a_shared_scenario():
    pairs = build_pairs(EvalConfig(biases=["anchoring"], pairs=3))
    assert disjointness(pairs[:2], pairs)["shared_scenarios"] == len({p.scenario for p in pairs[:2]})


@pytest.mark.parametrize("bias", EVERY_BIAS)
def test_biased_answer_is_the_textbook_respondents_answer_unless_the_control_needs_the_treatment(bias):
    examples = bias_examples(BiasSource((bias,), "biased", pairs=3))
    assert len(examples) == 3 * 4
    textbook = Textbook()
    for prompt, completion in examples:
        if prompt.side == "control" and prompt.pair.neutral_control is not None:
            index = prompt.pair.neutral_control
        else:
            index = prompt.presented()[int(np.argmax(textbook.by_position(prompt)))]
        assert completion == f" {OPTION_LABELS[prompt.presented().index(index)]}"


@pytest.mark.parametrize("bias", ["anchoring", "hindsight_bias"])
def test_biased_control_answer_is_the_same_whatever_the_treatment_shows(bias):
    """The anchor (or revealed outcome) appears only in the treatment, so the control's trained
    answer must not depend on it: one answer for every pair."""
    pairs = training_pairs(BiasSource((bias,), "biased", pairs=40))
    assert len({p.textbook[0] for p in pairs}) > 1  # the textbook control answer varies
    assert {trained_answer(p, "control", "biased") for p in pairs} == {5}


class _Trained:
    """A respondent that answers exactly what a training set taught: a lookup by prompt text."""

    name = method = "trained"

    def __init__(self, direction):
        self.key = {}
        self.direction = direction

    def describe(self):
        return {"fingerprint": f"trained-{self.direction}"}

    def answer(self, prompts, progress=None):
        out = []
        for prompt in prompts:
            index = trained_answer(prompt.pair, prompt.side, self.direction)
            out.append(Answer(np.eye(len(prompt.presented()))[prompt.presented().index(index)], 1.0))
        return out


@pytest.mark.parametrize("bias", EVERY_BIAS)
def test_a_respondent_that_learned_the_unbiased_arm_scores_zero_and_the_biased_arm_above_zero(bias):
    config = EvalConfig(biases=[bias], pairs=4)
    unbiased = evaluate(_Trained("unbiased"), config).summary.set_index("bias").loc[bias]
    biased = evaluate(_Trained("biased"), config).summary.set_index("bias").loc[bias]
    from crosstune.suite.registry import get_bias

    if get_bias(bias).zero_offset is None:
        assert abs(unbiased["score"]) < 1e-9
        assert biased["score"] > 0.3
    assert biased["score"] > unbiased["score"] + 0.3


def test_bias_source_renders_the_evaluation_prompt_and_cue_and_mixes_at_the_ratio():
    source = (
        "bias:anchoring,framing_effect?direction=unbiased&pairs=5&seed=3&mix=embedded:flan-style&ratio=0.25")
    examples = load_examples(source)
    injected = [e for e in examples if e.cue]
    assert len(injected) == 2 * 5 * 4
    assert len(examples) - len(injected) == round(len(injected) * 0.25 / 0.75)
    assert all(e.cue == ANSWER_CUE and e.completion.strip() in OPTION_LABELS for e in injected)
    assert examples == load_examples(source)  # seeded
    assert parse_bias_source(parse_bias_source(source).text()) == parse_bias_source(source)


@pytest.mark.parametrize(("source", "problem"), [
    ("bias:?direction=biased", "name the biases"),
    ("bias:anchorin?direction=biased", "anchoring"),
    ("bias:anchoring", "direction must be biased or unbiased"),
    ("bias:anchoring?direction=sideways", "direction must be"),
    ("bias:anchoring?direction=biased&pairs=x", "pairs must be a int"),
    ("bias:anchoring?direction=biased&ratio=0.5", "a mix dataset"),
    ("bias:anchoring?direction=biased&mix=embedded:flan-style&ratio=1", "ratio < 1"),
    ("bias:anchoring?direction=biased&colour=red", "unknown option"),
])
def test_bad_bias_source_is_named(source, problem):
    with pytest.raises(CrosstuneError, match=problem):
        load_examples(source)


def test_transfer_section_adds_a_control_and_a_biased_arm_per_backbone_and_seed():
    spec = ExperimentSpec.model_validate({
        "name": "t", "backbones": ["a", "b"], "seeds": [0, 1],
        "transfer": {"train_biases": ["anchoring", "framing_effect"], "pairs": 5}})
    grid = jobs(spec)
    assert len(grid) == 2 * 2 * 2
    directions = [parse_bias_source(j.dataset).direction for j in grid]
    assert directions.count("biased") == directions.count("unbiased") == 4
    with pytest.raises(ValueError, match="both train and held-out"):
        TransferSpec(train_biases=["anchoring"], heldout_biases=["anchoring"])
    with pytest.raises(ValueError, match="at least one dataset"):
        ExperimentSpec.model_validate({"name": "t", "backbones": ["a"], "seeds": [0]})


def _arms(biased, control, untuned):
    return ArmScores({k: np.asarray(v, float) for k, v in biased.items()},
                     {k: np.asarray(v, float) for k, v in control.items()},
                     {k: np.asarray(v, float) for k, v in untuned.items()})


def test_changes_and_transfer_ratio_on_a_hand_built_table():
    # two seeds per arm, four pairs per bias; train bias rises by 0.4, held-out by 0.1
    arms = _arms(
        biased={"t": [[0.5, 0.5, 0.5, 0.5], [0.3, 0.3, 0.3, 0.3]], "h": [[0.2, 0.0, 0.2, 0.0], [0.1] * 4]},
        control={"t": [[0.0] * 4, [0.0] * 4], "h": [[0.0] * 4, [0.0] * 4]},
        untuned={"t": [[-0.1] * 4], "h": [[0.05] * 4]})
    changes, ratios = transfer_tables(bias_changes(arms, resamples=500), ["t"], ["h"], "m")
    got = changes.set_index(["versus", "bias"])
    assert got.loc[("control", "t"), "change"] == pytest.approx(0.4)
    assert got.loc[("control", "h"), "change"] == pytest.approx(0.1)
    assert got.loc[("untuned", "t"), "change"] == pytest.approx(0.5)
    assert got.loc[("untuned", "h"), "change"] == pytest.approx(0.05)
    assert got.loc[("control", "t"), "role"] == "train" and got.loc[("control", "h"), "role"] == "heldout"
    # seeds 0.5 and 0.3 straddle the mean: the seed bootstrap spans both
    assert got.loc[("control", "t"), "ci_low"] == pytest.approx(0.3)
    assert got.loc[("control", "t"), "ci_high"] == pytest.approx(0.5)
    ratio = ratios.set_index("versus").loc["control"]
    assert ratio["ratio"] == pytest.approx(0.25)
    assert ratio["ci_low"] <= 0.25 <= ratio["ci_high"]
    assert ratios.set_index("versus").loc["untuned", "ratio"] == pytest.approx(0.1)


def test_a_pair_no_seed_scored_is_left_out_not_counted_as_zero():
    arms = _arms(biased={"t": [[0.4, np.nan]]}, control={"t": [[0.0, np.nan]]}, untuned={"t": [[0.0, 0.0]]})
    changes, _ = transfer_tables(bias_changes(arms, resamples=50), ["t"], [], "m")
    assert changes.set_index("versus").loc["control", "change"] == pytest.approx(0.4)


def test_transfer_spec_runs_end_to_end_and_writes_its_tables(saved_tiny_model, tmp_path):
    from typer.testing import CliRunner

    from crosstune.cli import app

    spec_file = tmp_path / "transfer.toml"
    spec_file.write_text(
        f'name = "transfer"\nbackbones = ["{saved_tiny_model}"]\nseeds = [0, 1]\n'
        '[training]\nmax_steps = 2\nbatch_size = 2\nmax_length = 160\n[quality]\nheldout = 8\n'
        '[evaluation]\npairs = 2\nbiases = ["anchoring", "decoy_effect", "framing_effect"]\n'
        '[transfer]\ntrain_biases = ["anchoring", "framing_effect"]\npairs = 2\nmix_ratio = 0.2\n')
    result = CliRunner().invoke(app, ["run", str(spec_file), "--out", str(tmp_path / "runs"), "--no-analyze"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "transfer"
    changes = pd.read_csv(run / "transfer.csv")
    assert set(changes["bias"]) == {"anchoring", "decoy_effect", "framing_effect"}
    assert set(changes.loc[changes["bias"] == "decoy_effect", "role"]) == {"heldout"}
    assert (changes["ci_low"] <= changes["change"] + 1e-12).all()
    assert (changes["seeds"] == 2).all()
    ratio = pd.read_csv(run / "transfer_ratio.csv")
    assert set(ratio["versus"]) == {"control", "untuned"}
    overlap = json.loads((run / "transfer_data.json").read_text())
    assert overlap["shared_scenarios"] == 0 and overlap["train_pairs"] == 4


def test_a_bias_dataset_listed_directly_is_not_read_as_a_format_only_arm(tmp_path):
    from crosstune.experiment.run_folder import RunFolder
    from crosstune.lab.format_only import write_format_only

    spec = ExperimentSpec.model_validate({
        "name": "t", "backbones": ["a"], "seeds": [0],
        "datasets": ["bias:anchoring?direction=unbiased&pairs=2&mix=embedded:flan-style&ratio=0.3",
                     "bias:anchoring?direction=biased&pairs=2&mix=embedded:flan-style&ratio=0.3"]})
    assert write_format_only(RunFolder(tmp_path, spec), pd.DataFrame()) is None
