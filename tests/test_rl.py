"""The RL arm's plain parts: parsing, rewards, the format census, user rewards, the [rl] section."""

import math
import subprocess
import sys

import pandas as pd
import pytest

from crosstune.errors import CrosstuneError
from crosstune.experiment.sources import RLSource, parse_dataset
from crosstune.experiment.spec import ExperimentSpec, RLSpec, jobs, load_spec
from crosstune.lab.rl.check import check_rl
from crosstune.lab.rl.parsing import FORMATS, entropy_bits, format_shares, parse, repetitive
from crosstune.lab.rl.questions import eval_questions, question_set, run_eval_questions, too_hard_questions
from crosstune.lab.rl.rewards import BINARY, BRIER, binary, brier, load_reward

CHOICES = ("12", "15", "18", "21")


@pytest.mark.parametrize(("text", "answer", "confidence", "form"), [
    ("B", 1, None, "letter"),
    ("C, 80%", 2, 0.8, "letter"),
    ("(A) I am 55% sure", 0, 0.55, "paren"),
    ("Answer: D. Confidence: 90", 3, 0.9, "answer-colon"),
    ("The answer is B with 70% confidence.", 1, 0.7, "answer-is"),
    ("I pick option C, confidence 0.6", 2, 0.6, "option"),
    ("It must be 18, I'd say 40%.", 2, 0.4, "free-text"),
    ("No idea at all.", None, None, "unparseable"),
    ("A: 70%\n\nThe correct answer is: B.", 0, 0.7, "letter"),  # the first answer stated counts
    ("Answer: Q", None, None, "unparseable"),
])
def test_a_completion_is_read_as_answer_confidence_and_format(text, answer, confidence, form):
    p = parse(text, CHOICES)
    assert (p.answer, p.format) == (answer, form)
    assert p.confidence == (pytest.approx(confidence) if confidence is not None else None)


def test_a_letter_beyond_the_options_and_a_confidence_above_100_are_not_read():
    assert parse("E, 50%", CHOICES).answer is None
    assert parse("A, 250%", CHOICES).confidence is None


def test_two_option_texts_in_free_text_are_unparseable():
    assert parse("either 12 or 15", CHOICES).format == "unparseable"


def test_a_confident_wrong_answer_scores_lower_under_brier_than_under_binary():
    wrong = parse("B, 95%", CHOICES)
    assert binary(wrong, 0) == 0.0
    assert brier(wrong, 0) == pytest.approx(-0.95 ** 2)
    assert brier(wrong, 0) < binary(wrong, 0)


def test_brier_pays_a_right_answer_more_the_surer_it_is_and_never_more_than_binary():
    sure, unsure = parse("A, 100%", CHOICES), parse("A, 60%", CHOICES)
    assert brier(sure, 0) == binary(sure, 0) == 1.0
    assert brier(unsure, 0) == pytest.approx(1 - 0.4 ** 2)


def test_an_unparseable_completion_earns_the_floor_of_each_reward():
    nothing = parse("hmm", CHOICES)
    assert BINARY.score("hmm", nothing, 0) == BINARY.floor == 0.0
    assert BRIER.score("hmm", nothing, 0) == BRIER.floor == -1.0
    no_confidence = parse("A", CHOICES)  # brier needs the confidence too
    assert BRIER.score("A", no_confidence, 0) == -1.0 and BINARY.score("A", no_confidence, 0) == 1.0


def test_format_entropy_is_zero_for_one_format_and_log2_k_for_k_equal_formats():
    assert entropy_bits(format_shares(["letter"] * 5).values()) == 0.0
    shares = format_shares(["letter", "paren", "answer-is", "unparseable"])
    assert set(shares) == set(FORMATS) and math.isclose(sum(shares.values()), 1)
    assert entropy_bits(shares.values()) == pytest.approx(2.0)


def test_repetition_is_a_repeated_word_trigram():
    assert repetitive("The answer is A. The answer is A.")
    assert not repetitive("The answer is A, 70%.")


def test_too_hard_questions_have_eight_close_options_and_a_right_one():
    for q in too_hard_questions(20, 0):
        a, b = (int(x) for x in q.question.removeprefix("What is ").rstrip("?").split(" * "))
        assert len(q.choices) == 8 and int(q.choices[q.answer]) == a * b


def test_evaluation_questions_never_repeat_a_training_question():
    train = question_set("feasible", 64, 0)
    held = eval_questions(40, 0, train)
    assert len(held) == 40 and not {q.question for q in held} & {q.question for q in train}


def _user_reward(tmp_path, body: str):
    path = tmp_path / "my_reward.py"
    path.write_text(body)
    return path


def test_a_user_reward_is_loaded_from_a_file_only_with_the_opt_in(tmp_path):
    path = _user_reward(tmp_path, "FLOOR = -2.0\n\ndef short(completion, answer, parsed):\n"
                                  "    return float(parsed.answer == answer) - len(completion) / 100\n")
    with pytest.raises(CrosstuneError, match="allow_code"):
        load_reward(f"{path}:short", allow_code=False)
    reward = load_reward(f"{path}:short", allow_code=True)
    assert reward.score("A", parse("A", CHOICES), 0) == pytest.approx(0.99)
    assert reward.score("??", parse("??", CHOICES), 0) == -2.0


def test_an_error_in_a_user_reward_is_one_line_naming_its_file_and_line(tmp_path):
    path = _user_reward(tmp_path, "def bad(completion, answer, parsed):\n    x = 1\n"
                                  "    return x / 0\n")
    reward = load_reward(f"{path}:bad", allow_code=True)
    with pytest.raises(CrosstuneError) as err:
        reward.score("A", parse("A", CHOICES), 0)
    assert str(err.value).startswith(f"{path}:3: reward bad raised ZeroDivisionError")
    assert "\n" not in str(err.value)


def test_a_user_reward_that_does_not_parse_or_returns_no_number_is_named(tmp_path):
    broken = _user_reward(tmp_path, "def f(completion, answer, parsed)\n    return 1\n")
    with pytest.raises(CrosstuneError, match=r"my_reward.py:1: reward file does not parse"):
        load_reward(f"{broken}:f", allow_code=True)
    text = _user_reward(tmp_path, "def f(completion, answer, parsed):\n    return 'good'\n")
    with pytest.raises(CrosstuneError, match=r"my_reward.py:1: reward f returned 'good'"):
        load_reward(f"{text}:f", allow_code=True).score("A", parse("A", CHOICES), 0)


def test_the_rl_section_makes_one_arm_per_reward_and_question_set_with_its_settings_in_the_job():
    spec = ExperimentSpec.model_validate({
        "name": "rl", "backbones": ["m"], "seeds": [0, 1],
        "rl": {"rewards": ["binary", "brier"], "question_sets": ["feasible", "too-hard"]}})
    grid = jobs(spec)
    assert len(grid) == 8
    assert {j.dataset for j in grid} == {"rl:binary?questions=feasible", "rl:brier?questions=feasible",
                                         "rl:binary?questions=too-hard", "rl:brier?questions=too-hard"}
    assert all(j.rl == spec.rl for j in grid)
    assert parse_dataset(grid[0].dataset) == RLSource("binary", "feasible")
    changed = spec.model_copy(update={"rl": spec.rl.model_copy(update={"steps": 3})})
    assert jobs(changed)[0].job_id != grid[0].job_id


def test_listed_arms_replace_the_cross_product():
    rl = RLSpec(rewards=["binary", "brier"], question_sets=["feasible", "too-hard"],
                arms=["binary@feasible", "brier@feasible", "binary@too-hard"])
    assert [s.label for s in rl.sources()] == ["rl-binary:feasible", "rl-brier:feasible",
                                               "rl-binary:too-hard"]
    with pytest.raises(ValueError, match="not REWARD@SET"):
        RLSpec(arms=["brier@too-hard"])


def test_a_job_without_rl_keeps_the_id_it_had_before_the_rl_section_existed():
    spec = ExperimentSpec.model_validate({"name": "x", "backbones": ["m"],
                                          "datasets": ["embedded:flan-style"], "seeds": [0]})
    assert jobs(spec)[0].job_id == "e1dc1661d5c63a41"  # as main computed it before [rl]


@pytest.mark.parametrize(("rl", "message"), [
    ({"rewards": ["accuracy"]}, "unknown reward 'accuracy'"),
    ({"group_size": 1}, "group_size must be at least 2"),
    ({"question_sets": ["trivia"]}, "unknown question set 'trivia'"),
    ({"rewards": ["r.py:f"]}, "set rl.allow_code = true"),
])
def test_a_bad_rl_section_is_one_line_naming_the_key(tmp_path, rl, message):
    body = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in rl.items())
    path = tmp_path / "rl.toml"
    path.write_text(f'name = "rl"\nbackbones = ["m"]\nseeds = [0]\n[rl]\n{body}')
    with pytest.raises(CrosstuneError, match=message) as err:
        load_spec(path)
    assert "\n" not in str(err.value) and "rl." in str(err.value)


def test_a_question_file_without_answers_is_refused_before_any_work(tmp_path):
    path = tmp_path / "qs.jsonl"
    path.write_text('{"question": "2 + 2?", "choices": ["3", "4"], "answer": 1}\n'
                    '{"question": "3 + 3?", "choices": ["6", "7"]}\n')
    with pytest.raises(CrosstuneError, match=r"qs.jsonl:2: answer"):
        check_rl(RLSpec(question_sets=[str(path)]))


def test_bad_rl_input_exits_2_with_one_line(tmp_path):
    path = tmp_path / "rl.toml"
    path.write_text('name = "rl"\nbackbones = ["m"]\nseeds = [0]\n[rl]\ngroup_size = 1\n')
    result = subprocess.run([sys.executable, "-m", "crosstune", "run", str(path), "--dry-run"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "group_size" in result.stderr


def test_the_run_table_gives_each_arm_its_change_with_a_t_interval_over_seeds():
    from crosstune.lab.rl.tables import calibration_table

    rows = [{"backbone": "m", "reward": "brier", "questions": "feasible", "kind": "stated",
             "metric": "accuracy", "seed": seed, "when": when, "value": value}
            for seed, before, after in ((0, 0.5, 0.6), (1, 0.5, 0.8))
            for when, value in (("before", before), ("after", after))]
    [row] = calibration_table(pd.DataFrame(rows)).to_dict("records")
    assert row["seeds"] == 2 and row["before"] == 0.5 and row["after"] == pytest.approx(0.7)
    assert row["change"] == pytest.approx(0.2)
    half = 12.706 * 0.02 ** 0.5 / 2 ** 0.5  # t(0.975, 1) x sd(0.1, 0.3) / sqrt(2)
    assert row["change_ci_low"] == pytest.approx(0.2 - half, rel=1e-3)


def test_every_arm_of_a_run_is_measured_on_the_same_questions_none_of_them_trained_on():
    rl = RLSpec(question_sets=["feasible", "too-hard"], train_questions=64, eval_questions=40)
    held = run_eval_questions(rl)
    trained = {q.question for name in rl.question_sets for q in question_set(name, 64, rl.seed)}
    assert len(held) == 40 and not {q.question for q in held} & trained
    only_feasible = run_eval_questions(rl.model_copy(update={"question_sets": ["feasible"]}))
    assert [q.question for q in only_feasible] == [q.question for q in held]


def test_a_seed_whose_model_states_no_confidence_is_not_counted_for_that_metric():
    from crosstune.lab.rl.tables import calibration_table

    rows = [{"backbone": "m", "reward": "binary", "questions": "feasible", "kind": "stated",
             "metric": "stated_ece", "seed": seed, "when": when, "value": value}
            for seed, before, after in ((0, 0.7, 0.5), (1, 0.7, 0.6), (2, 0.7, float("nan")))
            for when, value in (("before", before), ("after", after))]
    [row] = calibration_table(pd.DataFrame(rows)).to_dict("records")
    assert row["seeds"] == 2 and row["change"] == pytest.approx(-0.15)


def test_one_letter_for_every_question_is_a_modal_answer_share_of_one():
    from crosstune.lab.rl.measure import modal_answer_share

    assert modal_answer_share(pd.Series([0, 0, 0, 0])) == 1.0
    assert modal_answer_share(pd.Series([0, 1, 2, 3])) == 0.25
    assert modal_answer_share(pd.Series([0, 0, None, None])) == 0.5  # unread answers are not the mode
    assert modal_answer_share(pd.Series([None, None])) == 0.0
