"""What a spec and a run folder say of an RL arm: its reward and question-set names (checked when
the spec is read, before anything loads) and its file names, in each job folder (rl/...) and in
the run folder (rl_*.csv)."""

RL_FOLDER = "rl"
STATED_CSV = "stated.csv"
"""Stated-confidence metrics before and after, with CIs over questions."""
OPTION_CSV = "option.csv"
"""Option-probability calibration metrics before and after (the calibration probe's)."""
STATED_ITEMS = "stated_items.parquet"
"""Every evaluation completion, parsed, before and after."""
CENSUS_CSV = "census.csv"
"""Format shares and entropy per checkpoint (step 0 = before training)."""
TRAIN_LOG_CSV = "train_log.csv"
"""Mean reward per step."""

RUN_CALIBRATION = "rl_calibration.csv"
"""Per backbone x arm: each metric before and after, mean over seeds with a t CI."""
RUN_CENSUS = "rl_census.csv"
"""Per backbone x arm x seed x step: format shares and entropy."""
RUN_DIFFICULTY = "rl_difficulty.csv"
"""Per backbone x reward x question set: feasible-set accuracy and repetition rate before/after."""

ARM = ["backbone", "reward", "questions"]
"""The columns that name an arm in the run's RL tables."""
CALIBRATION_COLUMNS = [*ARM, "kind", "metric", "seeds", "before", "after", "change", "change_ci_low",
                       "change_ci_high"]
"""rl_calibration.csv's columns."""

BUILT_IN = ("binary", "brier")
"""The rewards crosstune defines; any other name is FILE.py:FUNCTION, a user's function."""
QUESTION_SETS = ("feasible", "too-hard")
"""The generated question sets; any other name is a JSONL file."""


def is_user_reward(name: str) -> bool:
    """'FILE.py:FUNCTION' names a user's function."""
    return name not in BUILT_IN


def check_reward_name(name: str, allow_code: bool) -> None:
    """Unknown names and user code without the opt-in are refused, before anything loads."""
    if not is_user_reward(name):
        return
    file, sep, function = name.rpartition(":")
    if not sep or not file.endswith(".py") or not function.isidentifier():
        raise ValueError(f"unknown reward {name!r}; use binary, brier, or FILE.py:FUNCTION "
                         "(a Python function, with rl.allow_code = true)")
    if not allow_code:
        raise ValueError(f"reward {name!r} runs Python code from a file; set rl.allow_code = true "
                         "to allow it")


def check_question_set(name: str) -> None:
    """A set name or a JSONL path, checked without reading the file."""
    if name not in QUESTION_SETS and not name.endswith(".jsonl"):
        raise ValueError(f"unknown question set {name!r}; use feasible, too-hard or a .jsonl file")
