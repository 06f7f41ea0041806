"""The command line's one convention (--model, several values after one flag, old spellings kept
with a note) and tables that fit 80 columns or a pipe without wrapping a number or a name."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from crosstune.cli_options import files, spread
from crosstune.console_table import fit_table
from crosstune.errors import CrosstuneError

NUMBER = re.compile(r"^[-+]?\d+(\.\d+)?%?$|^\[[-+]\d\.\d{3}, [-+]\d\.\d{3}\]$")


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The real command, piped (not a terminal) at 80 columns, as a script or `| less` sees it."""
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run([sys.executable, "-m", "crosstune", *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=cwd)


def _rows(output: str) -> list[list[str]]:
    """The body cells of every rich table in `output`, one list per printed line."""
    return [[cell.strip() for cell in line.strip().strip("│").split("│")]
            for line in output.splitlines() if line.lstrip().startswith("│")]


def _assert_unwrapped(output: str, names: set[str]) -> None:
    """No line is wider than 80; every body line starts with a whole name, and every cell is a whole
    number, a whole name or empty: a number split over two lines leaves `-0.0` and `97`."""
    assert all(len(line) <= 80 for line in output.splitlines()), output
    rows = _rows(output)
    assert rows, output
    for row in rows:
        assert row[0] in names or row[0].endswith("…"), (row, output)
        for cell in row[1:]:
            assert cell == "" or NUMBER.match(cell) or cell.endswith("…") or cell.isalpha(), (cell, output)


def test_spread_gives_each_value_its_flag_and_leaves_other_options_alone():
    greedy = {"--rewards", "--model"}
    assert spread(["--rewards", "a", "b", "--out", "o"], greedy) == [
        "--rewards", "a", "--rewards", "b", "--out", "o"]
    assert spread(["--model=x", "y", "--seed", "-1"], greedy) == ["--model=x", "--model", "y", "--seed", "-1"]
    assert spread(["--out", "o", "extra"], greedy) == ["--out", "o", "extra"]  # still refused later
    assert spread(["--model", "a", "--", "b"], greedy) == ["--model", "a", "--", "b"]


def test_a_glob_of_files_is_expanded_in_order_and_an_empty_one_is_named(tmp_path):
    for name in ("b.csv", "a.csv", "c.txt"):
        (tmp_path / name).write_text("x")
    assert files([tmp_path / "*.csv"], "--rewards") == [tmp_path / "a.csv", tmp_path / "b.csv"]
    assert files([tmp_path / "c.txt"], "--rewards") == [tmp_path / "c.txt"]
    with pytest.raises(CrosstuneError, match=r"--rewards .*\*\.json: no file matches"):
        files([tmp_path / "*.json"], "--rewards")


def test_a_table_too_wide_for_80_columns_shortens_names_then_leaves_columns_out():
    frame = pd.DataFrame({"model": ["smollm2-135m-instruct--biased-anchoring-framing_effect--s0"] * 2,
                          "score (expected)": ["-0.097", "+0.120"], "95% CI": ["[-0.195, -0.002]"] * 2,
                          "p": ["0.0312", "1"], "position effect": ["+0.001", "-0.020"],
                          "valid mass": ["0.98", "1.00"], "parse fail": ["0%", "0%"],
                          "dataset": ["a-long-dataset-name-that-goes-on-and-on"] * 2})
    fitted = fit_table(frame, "", 80)
    out = io.StringIO()
    Console(file=out, width=80).print(fitted.table)
    _assert_unwrapped(out.getvalue(), set())
    assert fitted.abbreviated == ["model"] and fitted.left_out == ["parse fail", "dataset"]
    assert "the full table is in x.csv" in fitted.note("x.csv")
    assert fit_table(frame.iloc[:, 1:3], "", 80).note(None) is None  # fits: nothing said


def test_eval_prints_its_bias_table_unwrapped_at_80_columns(saved_tiny_model, tmp_path):
    out = tmp_path / "run"
    result = _cli("eval", "--model", str(saved_tiny_model), "--biases", "anchoring", "decoy_effect",
                  "--pairs", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    _assert_unwrapped(result.stdout.split("position preference")[0], {"anchoring", "decoy_effect"})
    assert f"the full table is in {out / 'biases.csv'}" in " ".join(result.stdout.split())


def test_validate_prints_its_table_unwrapped_at_80_columns():
    result = _cli("biases", "validate", "--biases", "anchoring", "framing_effect", "--pairs", "2")
    assert result.returncode == 0, result.stderr
    _assert_unwrapped(result.stdout, {"anchoring", "framing_effect"})


def test_several_score_files_after_one_flag_or_as_a_glob_are_the_same_models(tmp_path):
    for name in ("rm-a", "rm-b", "rm-c", "rm-d"):
        (tmp_path / f"{name}.csv").write_text("response,best_ever_one,worst_ever_one\n"
                                              "love,1,2\npower,2,1\ncare,3,3\n")
    (tmp_path / "families.csv").write_text("model,family\nrm-a,x\nrm-b,x\nrm-c,y\nrm-d,y\n")
    common = ["--labels", "families.csv", "--permutations", "19"]
    listed = _cli("probe", "values", "--rewards", "rm-a.csv", "rm-b.csv", "rm-c.csv", "rm-d.csv",
                  *common, "--out", "listed", cwd=tmp_path)
    globbed = _cli("probe", "values", "--rewards", "rm-*.csv", *common, "--out", "globbed", cwd=tmp_path)
    repeated = _cli("probe", "values", *[x for n in "abcd" for x in ("--rewards", f"rm-{n}.csv")],
                    *common, "--out", "repeated", cwd=tmp_path)
    for result in (listed, globbed, repeated):
        assert result.returncode == 0, result.stderr
        assert "deprecated" not in result.stderr
    tables = [(tmp_path / out / "mean_of_medians.csv").read_text()
              for out in ("listed", "globbed", "repeated")]
    assert tables[0] == tables[1] == tables[2]


def test_the_old_positional_model_still_works_and_says_once_that_it_goes(saved_tiny_model, tmp_path):
    args = ["--questions", "4", "--bootstrap", "10"]
    old = _cli("probe", "calibration", str(saved_tiny_model), *args, "--out", str(tmp_path / "old"))
    new = _cli("probe", "calibration", "--model", str(saved_tiny_model), *args,
               "--out", str(tmp_path / "new"))
    assert old.returncode == new.returncode == 0, old.stderr + new.stderr
    notes = [line for line in old.stderr.splitlines() if "deprecated" in line]
    assert notes == ["note: 'crosstune probe calibration MODEL' is deprecated: write 'crosstune probe "
                     "calibration --model MODEL' (the old spelling goes in the next release)"]
    assert "deprecated" not in new.stderr
    twice = _cli("probe", "calibration", "x", "--model", "y")
    assert twice.returncode == 2 and "name the model once" in twice.stderr
