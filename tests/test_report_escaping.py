"""Every page crosstune writes escapes every user string; figures read names as text, not mathtext;
the terminal shows a user's markup and control codes as text.

Markup goes in through everything a user controls that reaches a page: model names and folders,
file names, labels (families, backbones), lexicon categories, question files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

EVIL = "<img src=x onerror=alert(1)>"
MATH = "$\\agency$"  # mathtext would fail on it ("Unknown symbol")
KEYS = ["best_ever_one", "greatest_world_please", "worst_ever_one", "bad_world_please"]


def _assert_escaped(html: str) -> None:
    assert "<img src=x" not in html and "<i>" not in html and "<b>" not in html, html[:2000]
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def _analysis_page(tmp: Path) -> str:
    from crosstune.analysis.attribute import analyze
    from crosstune.analysis.simulate import simulate
    from crosstune.report.html import render_report

    m = simulate(seed=6)
    m.scores.index = [f"{EVIL}{i}{MATH}" for i in range(len(m.scores))]
    m.factors.index = m.scores.index
    m.scores.columns = [f"<b>{c}</b>" for c in m.scores.columns]
    m.factors["backbone"] = m.factors.backbone + EVIL + MATH
    m.notes.append(f"left out {EVIL}")
    render_report(analyze(m, n_permutations=9), tmp / "analysis.html")
    return (tmp / "analysis.html").read_text()


def _values_inputs(tmp: Path) -> tuple[list[Path], Path, Path]:
    folder = tmp / f"in{EVIL}"
    folder.mkdir()
    lexicon = folder / "lexicon.csv"
    words = {f"<i>agency</i>{MATH}": ["power", "success", "ambition"],
             f"communion\x1b[31m[red]{EVIL}": ["love", "care", "friend"]}
    pd.DataFrame([(c, w) for c, ws in words.items() for w in ws],
                 columns=["Category", "token_decoded"]).to_csv(lexicon, index=False)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(4):
        responses = [w for ws in words.values() for w in ws]
        frame = pd.DataFrame({"response": responses} | {k: rng.normal(size=len(responses)) for k in KEYS})
        paths.append(folder / f"rm{i}{EVIL}.csv")
        frame.to_csv(paths[-1], index=False)
    labels = folder / "labels.csv"
    pd.DataFrame({"model": [p.stem for p in paths], "family": [f"<b>fam{i % 2}</b>{MATH}" for i in range(4)]}
                 ).to_csv(labels, index=False)
    return paths, lexicon, labels


def _values_page(tmp: Path) -> str:
    from crosstune.probes.runner import run_probe
    from crosstune.probes.values import VALUES, ValuesConfig, values_request

    paths, lexicon, labels = _values_inputs(tmp)
    result = run_probe(VALUES, values_request(rewards=paths),
                       ValuesConfig(lexicon=lexicon, labels=labels, permutations=19), tmp / "values")
    return (result.folder / "report.html").read_text()


def _model_with_a_hostile_name(model: Path, tmp: Path) -> Path:
    target = tmp / f"tiny{EVIL}{MATH}"
    target.mkdir()
    for f in model.iterdir():
        (target / f.name).write_bytes(f.read_bytes())
    return target


def _questions(tmp: Path) -> Path:
    path = tmp / f"q{EVIL}.jsonl"
    path.write_text("".join(
        f'{{"id": "<b>{i}</b>", "kind": "<i>k</i>", "question": "{i} + 1?", "choices": ["{i + 1}", "x"], '
        f'"answer": 0}}\n' for i in range(4)))
    return path


def _calibration_page(tmp: Path, model: Path) -> str:
    from crosstune.probes.calibration import CALIBRATION, CalibrationConfig
    from crosstune.probes.interface import ModelRequest
    from crosstune.probes.runner import run_probe

    config = CalibrationConfig(questions_file=_questions(tmp), bootstrap=10)
    result = run_probe(CALIBRATION, ModelRequest((str(_model_with_a_hostile_name(model, tmp)),)), config,
                       tmp / "calibration")
    return (result.folder / "report.html").read_text()


def _faithfulness_page(tmp: Path, model: Path) -> str:
    from crosstune.probes.faithfulness import FAITHFULNESS, FaithfulnessConfig
    from crosstune.probes.interface import ModelRequest
    from crosstune.probes.runner import run_probe

    config = FaithfulnessConfig(questions_file=_questions(tmp), samples=1, cot_tokens=8, max_sentences=2,
                                tests=["early"], bootstrap=10)
    source = tmp / f"tiny{EVIL}{MATH}"
    model_path = str(source if source.exists() else _model_with_a_hostile_name(model, tmp))
    result = run_probe(FAITHFULNESS, ModelRequest((model_path,)), config, tmp / "faithfulness")
    return (result.folder / "report.html").read_text()


def test_every_page_crosstune_writes_escapes_markup_in_every_user_string(tmp_path, saved_tiny_model,
                                                                         isolated_home):
    pages = {"analysis": _analysis_page(tmp_path), "values": _values_page(tmp_path),
             "calibration": _calibration_page(tmp_path, saved_tiny_model),
             "faithfulness": _faithfulness_page(tmp_path, saved_tiny_model)}
    for name, html in pages.items():
        assert html.startswith("<!doctype html>"), name
        _assert_escaped(html)
    assert "&lt;i&gt;agency&lt;/i&gt;" in pages["values"]  # a lexicon category
    assert "&lt;b&gt;fam0&lt;/b&gt;" in pages["values"]  # a family from the labels file
    assert "in&lt;img src=x onerror=alert(1)&gt;" in pages["values"]  # the lexicon's folder
    for name, html in pages.items():  # a control code is shown as the terminal shows it, not written raw
        assert "\x1b" not in html, name
    assert "communion\\x1b[31m[red]" in pages["values"]  # the lexicon category's colour code


def test_markup_and_control_codes_reach_the_terminal_as_text(tmp_path, capsys, monkeypatch, isolated_home):
    from crosstune.cli import console, main

    paths, lexicon, labels = _values_inputs(tmp_path)
    args = ["probe", "values", *(a for p in paths for a in ("--rewards", str(p))), "--lexicon", str(lexicon),
            "--labels", str(labels), "--permutations", "19", "--out", str(tmp_path / "out")]
    monkeypatch.setattr(sys, "argv", ["crosstune", *args])
    monkeypatch.setattr(console, "width", 250)  # wide enough that no name is abbreviated
    with pytest.raises(SystemExit) as stopped:
        main()
    out = capsys.readouterr().out
    assert stopped.value.code == 0
    assert "\x1b" not in out  # the category's colour code is shown, not obeyed
    assert "\\x1b" in out and "[red]" in out  # and rich markup in it is printed as typed


def test_an_error_naming_a_hostile_file_prints_its_control_codes_as_text(tmp_path, capsys, monkeypatch):
    from crosstune.cli import main

    monkeypatch.setattr(sys, "argv", ["crosstune", "probe", "values", "--rewards",
                                      str(tmp_path / "gone\x1b[2J[bold].csv")])
    with pytest.raises(SystemExit) as stopped:
        main()
    err = capsys.readouterr().err
    assert stopped.value.code == 2
    assert "\x1b" not in err and "\\x1b[2J[bold]" in err
