"""Hostile but realistic input to the probes (calibration, faithfulness, values): one line, exit 2.

The same table shape as test_bad_input.py: each row builds its files in a scratch folder, runs
the real command line (`crosstune.cli.main`, in this process: the probes load torch once), and
checks the exit code, a fragment of the message, that there is no traceback, and that the
files it was given are unchanged. Every bad file is refused before any model loads.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import assert_one_clear_line

Setup = Callable[[Path, Path], list[str]]  # (scratch folder, tiny model folder) -> CLI arguments

GOOD_REWARDS = "response,best_ever_one\nlove,1\npower,2\n"
GOOD = b'{"question": "2 + 2?", "choices": ["3", "4"], "answer": 1}\n'


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _file(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def _questions(data: bytes, probe: str = "calibration") -> Setup:
    return lambda t, m: ["probe", probe, str(m), "--questions-file", str(_file(t, "q.jsonl", data)),
                         "--out", str(t / "out")]


def _run_folder(tmp: Path) -> Path:
    run = tmp / "runs" / "r"
    run.mkdir(parents=True)
    (run / "spec.json").write_text("{}")
    return run


def _values(*args: str) -> Setup:
    return lambda t, m: ["probe", "values", *args, "--out", str(t / "out")]


def _rewards(tmp: Path, text: bytes | str, name: str = "rm.csv") -> str:
    return str(_file(tmp, name, text.encode() if isinstance(text, str) else text))


def _relabelled_lm(tmp: Path, model: Path) -> list[str]:
    """A causal LM checkpoint whose config claims a classification head it has no weights for."""
    import json

    folder = tmp / "relabelled"
    folder.mkdir()
    for f in model.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    config = json.loads((folder / "config.json").read_text())
    config.update(architectures=["LlamaForSequenceClassification"], num_labels=1)
    (folder / "config.json").write_text(json.dumps(config))
    return ["probe", "values", "--reward-model", str(folder), "--out", str(tmp / "out")]


CASES: dict[str, tuple[Setup, str]] = {
    # calibration: questions JSONL, every row typed before any model loads
    "questions choices a string": (
        _questions(b'{"question": "q", "choices": "xay", "answer": 0}\n'),
        "choices: Input should be a valid list"),
    "questions answer a bool": (
        _questions(b'{"question": "q", "choices": ["a", "b"], "answer": true}\n'), "answer"),
    "questions choices not strings": (
        _questions(b'{"question": "q", "choices": ["a", 2], "answer": 0}\n'), "choices.1"),
    "questions duplicate ids": (
        _questions(b'{"id": "x", "question": "q", "choices": ["a", "b"], "answer": 0}\n'
                   b'{"id": "x", "question": "r", "choices": ["a", "b"], "answer": 1}\n'), "repeats line 1"),
    "questions answer out of range": (
        _questions(b'{"question": "q", "choices": ["a", "b"], "answer": 2}\n'), "out of range"),
    "questions answer not a choice": (
        _questions(b'{"question": "q", "choices": ["a", "b"], "answer": "c"}\n'), "not the text of any"),
    "questions repeated choices": (
        _questions(b'{"question": "q", "choices": ["a", "a"], "answer": 0}\n'), "choices repeat"),
    "questions one choice": (
        _questions(b'{"question": "q", "choices": ["a"], "answer": 0}\n'), "choices"),
    "questions missing answer": (
        _questions(b'{"question": "q", "choices": ["a", "b"]}\n'), "answer: Field required"),
    "questions row not an object": (_questions(b"[1, 2]\n"), ":1: the row"),
    "questions not JSON on line 2": (_questions(GOOD + b"{nope\n"), "q.jsonl:2: not valid JSON"),
    "questions empty file": (_questions(b""), "holds no questions"),
    "questions blank lines only": (_questions(b"\n\n  \n"), "holds no questions"),
    "questions not UTF-8": (_questions(GOOD + b'{"question": "\xe9"}\n'), "q.jsonl, line 2: not UTF-8"),
    "questions NUL byte": (_questions(GOOD + b"\x00\x01binary"), "NUL byte"),
    "questions file is a folder": (
        lambda t, m: ["probe", "calibration", str(m), "--questions-file", str(t), "--out", str(t / "o")],
        "is a folder"),
    "questions file missing": (
        lambda t, m: ["probe", "calibration", str(m), "--questions-file", str(t / "gone.jsonl")],
        "not found"),
    "calibration --questions 0": (lambda t, m: ["probe", "calibration", str(m), "--questions", "0"],
                                  "--questions"),
    "calibration --questions absurd": (
        lambda t, m: ["probe", "calibration", str(m), "--questions", "1000000000"], "--questions"),
    "calibration --bootstrap 0": (lambda t, m: ["probe", "calibration", str(m), "--bootstrap", "0"],
                                  "--bootstrap"),
    "calibration --bootstrap negative": (
        lambda t, m: ["probe", "calibration", str(m), "--bootstrap", "-5"], "--bootstrap"),
    "calibration --bootstrap absurd": (
        lambda t, m: ["probe", "calibration", str(m), "--bootstrap", "2000000000"], "--bootstrap"),
    "calibration --bootstrap too many for the questions": (
        lambda t, m: ["probe", "calibration", str(m), "--bootstrap", "100000", "--questions", "1000",
                      "--out", str(t / "out")], "use --bootstrap 50,000 or fewer"),
    "calibration --bins absurd": (
        lambda t, m: ["probe", "calibration", str(m), "--bins", "2000000000"], "--bins"),
    "calibration --format fancy": (lambda t, m: ["probe", "calibration", str(m), "--format", "fancy"],
                                   "Invalid value for '--format'"),
    "calibration run folder with --adapter": (
        lambda t, m: ["probe", "calibration", str(_run_folder(t)), "--adapter", str(t)],
        "--adapter does not apply"),
    # faithfulness
    "faithfulness questions answer a bool": (
        _questions(b'{"question": "q", "choices": ["a", "b"], "answer": false}\n', "faithfulness"),
        "answer"),
    "faithfulness --temperature inf": (
        lambda t, m: ["probe", "faithfulness", str(m), "--temperature", "inf"], "--temperature"),
    "faithfulness --temperature nan": (
        lambda t, m: ["probe", "faithfulness", str(m), "--temperature", "nan"], "--temperature"),
    "faithfulness --temperature 0": (
        lambda t, m: ["probe", "faithfulness", str(m), "--temperature", "0"], "--temperature"),
    "faithfulness --samples 0": (lambda t, m: ["probe", "faithfulness", str(m), "--samples", "0"],
                                 "--samples"),
    "faithfulness --cot-tokens 0": (lambda t, m: ["probe", "faithfulness", str(m), "--cot-tokens", "0"],
                                    "--cot-tokens"),
    "faithfulness --cot-tokens negative": (
        lambda t, m: ["probe", "faithfulness", str(m), "--cot-tokens", "-1"], "--cot-tokens"),
    "faithfulness --batch-size 0": (lambda t, m: ["probe", "faithfulness", str(m), "--batch-size", "0"],
                                    "--batch-size"),
    "faithfulness --questions 0": (lambda t, m: ["probe", "faithfulness", str(m), "--questions", "0"],
                                   "--questions"),
    "faithfulness --bootstrap 0": (lambda t, m: ["probe", "faithfulness", str(m), "--bootstrap", "0"],
                                   "--bootstrap"),
    "faithfulness --bootstrap absurd": (
        lambda t, m: ["probe", "faithfulness", str(m), "--bootstrap", "2000000000"], "--bootstrap"),
    "faithfulness unknown test": (lambda t, m: ["probe", "faithfulness", str(m), "--tests", "vibes"],
                                  "--tests"),
    "faithfulness --format fancy": (lambda t, m: ["probe", "faithfulness", str(m), "--format", "fancy"],
                                    "Invalid value for '--format'"),
    "faithfulness run folder with --adapter": (
        lambda t, m: ["probe", "faithfulness", str(_run_folder(t)), "--adapter", str(t)],
        "--adapter does not apply"),
    # values: reward models
    "values causal LM as --reward-model": (
        lambda t, m: ["probe", "values", "--reward-model", str(m), "--out", str(t / "out")],
        "has no weights for a reward head"),
    "values LM checkpoint relabelled as a classifier": (_relabelled_lm, "reward head would be random"),
    "values missing local --reward-model": (
        _values("--reward-model", "./no/such/rm"), "no such folder"),
    "values file as --reward-model": (
        lambda t, m: ["probe", "values", "--reward-model", str(_file(t, "rm.bin", b"x")), "--out",
                      str(t / "out")], "is a file"),
    # values: files a user gives (rewards CSV, lexicon, prompt file)
    "rewards empty": (lambda t, m: _values("--rewards", _rewards(t, ""))(t, m), "is empty"),
    "rewards header only": (lambda t, m: _values("--rewards", _rewards(t, "response,best_ever_one\n"))(t, m),
                            "header but no data rows"),
    "rewards binary": (lambda t, m: _values("--rewards", _rewards(t, b"PK\x03\x04\x00\x00"))(t, m),
                       "NUL"),
    "rewards not UTF-8": (
        lambda t, m: _values("--rewards", _rewards(t, b"response,best_ever_one\nl\xe9ve,1\n"))(t, m),
        "not UTF-8"),
    "rewards duplicated column": (
        lambda t, m: _values("--rewards", _rewards(t, "response,best_ever_one,best_ever_one\nlove,1,2\n"))(
            t, m), "duplicated column name(s) ['best_ever_one']"),
    "rewards inf score": (
        lambda t, m: _values("--rewards", _rewards(t, "response,best_ever_one\nlove,inf\n"))(t, m),
        "must be a finite number"),
    "rewards nan score": (
        lambda t, m: _values("--rewards", _rewards(t, "response,best_ever_one\nlove,nan\n"))(t, m),
        "non-numeric score 'nan'"),
    "rewards folder": (lambda t, m: _values("--rewards", str(t))(t, m), "not a file"),
    "rewards lack the prompt asked for": (
        lambda t, m: _values("--rewards", _rewards(t, GOOD_REWARDS), "--prompt", "best_ever_two")(t, m),
        "has no column for prompt key(s) ['best_ever_two']"),
    "lexicon latin-1 .dic": (
        lambda t, m: _values("--rewards", _rewards(t, GOOD_REWARDS), "--lexicon",
                             _rewards(t, b"%\n1\tagency\n%\nm\xe4chtig\t1\n", "l.dic"))(t, m),
        "line 4: not UTF-8"),
    "lexicon .dic with NUL": (
        lambda t, m: _values("--rewards", _rewards(t, GOOD_REWARDS), "--lexicon",
                             _rewards(t, b"%\n1\tagency\n%\x00", "l.dic"))(t, m), "NUL byte"),
    "lexicon folder": (
        lambda t, m: _values("--rewards", _rewards(t, GOOD_REWARDS), "--lexicon", str(t))(t, m),
        "is a folder"),
    "lexicon empty csv": (
        lambda t, m: _values("--rewards", _rewards(t, GOOD_REWARDS), "--lexicon", _rewards(t, "", "l.csv"))(
            t, m), "is empty"),
    "lexicon duplicated column": (
        lambda t, m: _values("--rewards", _rewards(t, GOOD_REWARDS), "--lexicon",
                             _rewards(t, "Category,token_decoded,Category\nagency,power,x\n", "l.csv"))(t, m),
        "duplicated column name(s) ['Category']"),
    "prompt file not TOML": (
        lambda t, m: _values("--model", str(m), "--prompt-file", _rewards(t, "x = = 1", "p.toml"))(t, m),
        "not valid TOML"),
    "prompt file not UTF-8": (
        lambda t, m: _values("--model", str(m), "--prompt-file",
                             _rewards(t, b'best_ever_two = "\xe9"', "p.toml"))(t, m), "not UTF-8"),
    "prompt file header only": (
        lambda t, m: _values("--model", str(m), "--prompt-file", _rewards(t, "key,text\n", "p.csv"))(t, m),
        "header but no data rows"),
    "values --rule giving an empty family": (
        lambda t, m: _values("--rewards", _rewards(t, GOOD_REWARDS), _rewards(t, GOOD_REWARDS, "rm2.csv"),
                             "--rule", "family=^(x?)")(t, m), "empty family label"),
    "values --top 0": (lambda t, m: ["probe", "values", "--model", str(m), "--top", "0"], "--top"),
    "values --permutations 0": (lambda t, m: ["probe", "values", "--model", str(m), "--permutations", "0"],
                                "--permutations"),
    "values --permutations negative": (
        lambda t, m: ["probe", "values", "--model", str(m), "--permutations", "-3"], "--permutations"),
    "values --permutations absurd": (
        lambda t, m: ["probe", "values", "--model", str(m), "--permutations", "100000000000"],
        "--permutations"),
    "values --batch-size 0": (lambda t, m: ["probe", "values", "--model", str(m), "--batch-size", "0"],
                              "--batch-size"),
    "values --format fancy": (lambda t, m: ["probe", "values", "--model", str(m), "--format", "fancy"],
                              "Invalid value for '--format'"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_probe_input_is_one_clear_line_and_exit_2(case, tmp_path, saved_tiny_model, isolated_home,
                                                     cli_in_process):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    setup, fragment = CASES[case]
    args = setup(scratch, saved_tiny_model)
    before = snapshot(scratch)
    assert_one_clear_line(*cli_in_process(args, tmp_path), fragment)
    assert snapshot(scratch) == before
    assert not (tmp_path / "runs").exists() or case.endswith("--adapter")


def test_a_byte_order_mark_and_blank_lines_are_accepted_in_a_questions_file(tmp_path):
    from crosstune.probes.questions import load_questions

    path = _file(tmp_path, "q.jsonl", b"\xef\xbb\xbf" + GOOD + b"\n" + GOOD.replace(b"2 + 2", b"3 + 1"))
    questions = load_questions(path)
    assert [q.answer for q in questions] == [1, 1]
    assert [q.qid for q in questions] == ["q-1", "q-3"]


def test_an_answer_given_as_choice_text_is_its_index(tmp_path):
    from crosstune.probes.questions import load_questions

    path = _file(tmp_path, "q.jsonl", b'{"question": "q", "choices": ["a", "b", "c"], "answer": "c"}\n')
    assert load_questions(path)[0].answer == 2


# documented values that used to crash after the expensive work: computed, or said why not

@pytest.mark.parametrize("tests", ["filler", "mistakes", "paraphrase", "filler,paraphrase"])
def test_every_documented_subset_of_faithfulness_tests_finishes(tests, tmp_path, saved_tiny_model,
                                                                isolated_home, capsys, monkeypatch):
    from crosstune.cli import main

    monkeypatch.setattr(sys, "argv", ["crosstune", "probe", "faithfulness", str(saved_tiny_model), "--tests",
                                      tests, "--questions", "2", "--samples", "1", "--cot-tokens", "8",
                                      "--bootstrap", "10", "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 0, capsys.readouterr().err[-3000:]
    assert (tmp_path / "out" / "report.html").exists()


def test_an_lm_values_probe_with_one_prompt_per_framing_says_what_it_cannot_compute(
        tmp_path, isolated_home, capsys, monkeypatch):
    from values_fixtures import save_tiny_lm, train_tokenizer

    from crosstune.cli import main

    lm = save_tiny_lm(tmp_path / "lm", train_tokenizer(500), seed=0)
    monkeypatch.setattr(sys, "argv", ["crosstune", "probe", "values", "--model", str(lm), "--prompt",
                                      "best_ever_one", "--prompt", "worst_ever_one", "--permutations", "19",
                                      "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit) as stopped:
        main()
    out = capsys.readouterr()
    assert stopped.value.code == 0, out.err[-3000:]
    assert "OLS ANOVA not computed" in " ".join(out.out.split())
    assert (tmp_path / "out" / "report.html").exists()
