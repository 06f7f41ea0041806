"""Output folders crosstune shares with its user: a refresh replaces only what crosstune wrote.

The user's own files survive every rerun; a path that changes under a running command is one
clear line, never a silent rename; two identical commands at once both finish.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from crosstune import store
from crosstune.errors import CrosstuneError


def _write(folder: Path, value: int, extra: str | None = None) -> None:
    with store.staged(folder) as staging:
        store.write_csv(staging / store.BIASES, pd.DataFrame({"bias": ["a"], "score": [value]}))
        if extra:
            store.write_text(staging / extra, "x")
        store.write_json(staging / store.MANIFEST, {"kind": "crosstune-eval"})


def test_a_refresh_keeps_the_users_own_files_and_replaces_crosstunes(tmp_path):
    folder = tmp_path / "out"
    _write(folder, 1, extra="old_table.csv")
    (folder / "notes.txt").write_text("mine")
    (folder / ".hidden-notes").write_text("mine too")
    (folder / "drafts").mkdir()
    (folder / "drafts" / "d.md").write_text("draft")
    _write(folder, 2)
    assert (folder / "notes.txt").read_text() == "mine"
    assert (folder / ".hidden-notes").read_text() == "mine too"
    assert (folder / "drafts" / "d.md").read_text() == "draft"
    assert not (folder / "old_table.csv").exists()  # crosstune's, no longer written: gone
    assert pd.read_csv(folder / store.BIASES)["score"].tolist() == [2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no hidden debris


def test_a_refresh_of_a_folder_written_before_the_listing_keeps_unknown_files(tmp_path):
    folder = tmp_path / "out"
    _write(folder, 1)
    (folder / store.WRITTEN).unlink()  # as an older crosstune left it
    (folder / "notes.txt").write_text("mine")
    _write(folder, 2)
    assert (folder / "notes.txt").read_text() == "mine"


def test_a_file_appearing_at_the_output_path_is_refused_not_renamed_aside(tmp_path):
    folder = tmp_path / "out"
    with pytest.raises(CrosstuneError, match="appeared as a file"), store.staged(folder) as staging:
        store.write_text(staging / "x.csv", "1")
        folder.write_text("the user's file")
    assert folder.read_text() == "the user's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_foreign_folder_appearing_at_the_output_path_is_refused(tmp_path):
    folder = tmp_path / "out"
    with pytest.raises(CrosstuneError, match="did not write"), store.staged(folder) as staging:
        store.write_text(staging / "x.csv", "1")
        folder.mkdir()
        (folder / "thesis.tex").write_text("mine")
    assert (folder / "thesis.tex").read_text() == "mine"
    assert sorted(p.name for p in folder.iterdir()) == ["thesis.tex"]


def test_a_parent_replaced_by_a_file_is_one_named_error(tmp_path):
    parent = tmp_path / "parent"
    with pytest.raises(CrosstuneError, match="is a file, not a"), store.staged(parent / "out") as staging:
        store.write_text(staging / "x.csv", "1")
        os.rename(parent, tmp_path / "moved")
        parent.write_text("a file now")
        store.write_text(staging / "y.csv", "2")


def test_a_live_commands_staging_folder_is_not_removed_by_another(tmp_path):
    folder = tmp_path / "out"
    with store.staged(folder) as first:
        store.write_text(first / "a.csv", "1")
        _write(folder, 2)  # a second command on the same folder starts and finishes meanwhile
        assert first.is_dir()
        store.write_text(first / store.MANIFEST, '{"kind": "crosstune-eval"}')
    assert (folder / "a.csv").exists()


def test_a_dead_commands_staging_folder_is_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    debris = tmp_path / f".out.staging-{dead}-deadbeef"
    debris.mkdir()
    _write(tmp_path / "out", 1)
    assert not debris.exists()


def test_two_identical_evals_started_together_both_finish(tmp_path, saved_tiny_model, isolated_home):
    args = [sys.executable, "-m", "crosstune", "eval", "--model", str(saved_tiny_model), "--biases",
            "anchoring", "--pairs", "2", "--out", str(tmp_path / "out")]
    procs = [subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (_, stderr) in zip(procs, results, strict=True):
        assert proc.returncode == 0, stderr
        assert "Traceback" not in stderr
    assert (tmp_path / "out" / store.MANIFEST).exists()


def test_a_rerun_of_eval_keeps_notes_in_the_folder(tmp_path, saved_tiny_model, isolated_home):
    args = [sys.executable, "-m", "crosstune", "eval", "--model", str(saved_tiny_model), "--biases",
            "anchoring", "--pairs", "1", "--out", str(tmp_path / "out")]
    assert subprocess.run(args, cwd=tmp_path, capture_output=True).returncode == 0
    (tmp_path / "out" / "notes.txt").write_text("mine")
    rerun = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"


def test_a_refresh_of_a_values_folder_keeps_notes(tmp_path):
    from crosstune.probes.runner import run_probe
    from crosstune.probes.values import VALUES, ValuesConfig, values_request

    paths = []
    for i in range(2):
        paths.append(tmp_path / f"rm{i}.csv")
        paths[-1].write_text("response,best_ever_one,worst_ever_one\nlove,1,2\npower,2,1\ncare,0,3\n")
    request, config = values_request(rewards=paths), ValuesConfig(permutations=19)
    run_probe(VALUES, request, config, tmp_path / "values")
    (tmp_path / "values" / "notes.txt").write_text("mine")
    run_probe(VALUES, request, config, tmp_path / "values")
    assert (tmp_path / "values" / "notes.txt").read_text() == "mine"
    assert (tmp_path / "values" / "manifest.json").exists()
