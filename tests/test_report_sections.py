"""The report's run-folder sections: position preference, format-only arms, bias transfer.

Run folders are built by hand, their evaluation folders written by `crosstune.store` itself."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crosstune.errors import CrosstuneError
from crosstune.evaluate import position_preference, position_summary
from crosstune.experiment.run_folder import RunFolder
from crosstune.records import EvalManifest
from crosstune.report.folder import run_analysis
from crosstune.report.run_sections import (
    position_lines,
    position_masses,
    position_table,
    run_sections,
)
from crosstune.respondents.base import Answer
from crosstune.store import (
    ANALYSIS,
    BASES,
    EVAL,
    FORMAT_ONLY,
    JOB,
    JOBS,
    POSITION_TABLE,
    POSITIONS,
    REPORT,
    TRANSFER,
    TRANSFER_COLUMNS,
    TRANSFER_RATIO,
    TRANSFER_RATIO_COLUMNS,
    EvalFiles,
    slug,
    write_eval,
    write_json,
)

BIASES = ["anchoring", "framing", "decoy", "halo"]


def answers(first: float, seed: int) -> list[Answer]:
    """Distributions over 2, 3 and 5 options, leaning `first` towards the first-listed letter."""
    rng = np.random.default_rng(seed)
    out = []
    for n, count in ((2, 3), (3, 5), (5, 2)):
        for _ in range(count):
            probs = rng.dirichlet(np.ones(n)) * (1 - first)
            probs[0] += first
            out.append(Answer(probs, 1.0))
    out.append(Answer(np.full(3, np.nan), 0.0))  # an unparsed answer counts nowhere
    return out


def write_model(folder, first: float, seed: int, positions: bool = True) -> list[Answer]:
    given = answers(first, seed)
    table = position_preference(given)
    manifest = EvalManifest(position_preference=position_summary(table, given))
    biases = pd.DataFrame({"bias": BIASES, "score": np.random.default_rng(seed).normal(0, 0.2, 4)})
    write_eval(folder, EvalFiles(pd.DataFrame({"x": [0]}), biases, table if positions else None, manifest))
    return given


def build_run(run, backbones=("alpha", "beta/2"), datasets=("tulu", "flan?transform=x"), seeds=(0, 1),
              positions=True) -> dict[str, list[Answer]]:
    """A finished run folder: labels, scores, spec, base/ and jobs/ evaluations; model -> answers."""
    labels, scores, given = {}, {}, {}
    rng = np.random.default_rng(0)
    for b_index, backbone in enumerate(backbones):
        name = f"{slug(backbone)}--untuned"
        given[name] = write_model(run / BASES / slug(backbone), 0.5, b_index, positions)
        labels[name] = {"backbone": backbone, "instruction": "untuned", "seed": "", "learned": ""}
        for d_index, dataset in enumerate(datasets):
            for seed in seeds:
                name = f"model-{b_index}-{d_index}-{seed}"  # names need not follow any pattern
                job = run / JOBS / f"job{b_index}{d_index}{seed}"
                write_json(job / JOB, {"backbone": backbone, "dataset": dataset, "seed": seed})
                given[name] = write_model(job / EVAL, 0.2 + 0.1 * d_index, 10 * b_index + seed, positions)
                labels[name] = {"backbone": backbone, "instruction": dataset, "seed": str(seed),
                                "learned": "True"}
        for name in labels:
            scores[name] = rng.normal(0, 0.3, len(BIASES))
    pd.DataFrame(labels).T.rename_axis("model").to_csv(run / "labels.csv")
    pd.DataFrame(scores, index=BIASES).T.rename_axis("model").to_csv(run / "scores.csv")
    (run / "spec.json").write_text("{}")
    return given


def transfer_tables(backbones=("alpha", "beta/2")) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = [{"backbone": b, "bias": bias, "role": "train" if i < 2 else "heldout", "versus": versus,
             "change": 0.3 - 0.1 * i, "ci_low": 0.1 - 0.1 * i, "ci_high": 0.5 - 0.1 * i, "seeds": 2,
             "pairs": 20} for b in backbones for versus in ("control", "untuned")
            for i, bias in enumerate(BIASES)]
    ratios = [{"backbone": b, "versus": versus, "ratio": 0.2, "ci_low": -0.1, "ci_high": 0.6,
               "train_change": 0.25, "heldout_change": 0.05} for b in backbones
              for versus in ("control", "untuned")]
    return pd.DataFrame(rows, columns=TRANSFER_COLUMNS), pd.DataFrame(ratios, columns=TRANSFER_RATIO_COLUMNS)


def test_eval_folders_match_labels_to_base_and_job_folders_by_backbone_dataset_and_seed(tmp_path):
    build_run(tmp_path)
    folders = {model.name: model.eval_folder for model in RunFolder(tmp_path).collected()}
    assert folders["alpha--untuned"] == tmp_path / BASES / "alpha"
    assert folders["beta-2--untuned"] == tmp_path / BASES / "beta-2"
    assert folders["model-1-1-0"] == tmp_path / JOBS / "job110" / EVAL
    assert len(folders) == 2 * (1 + 2 * 2)


def test_position_table_equals_each_manifests_summary_over_all_prompts(tmp_path):
    given = build_run(tmp_path)
    table = position_table(position_masses(tmp_path)).set_index("model")
    for model, model_answers in given.items():
        summary = position_summary(position_preference(model_answers), model_answers)
        got = table.loc[model]
        assert got.p_first == pytest.approx(summary.p_first, abs=1e-12)
        assert got.p_last == pytest.approx(summary.p_last, abs=1e-12)
        assert got.p_uniform == pytest.approx(summary.p_uniform, abs=1e-12)
        assert got.prompts == 10
    assert table.loc["model-0-1-1", "instruction"] == "flan?transform=x"


def test_models_without_positions_csv_are_skipped_and_the_rest_shown(tmp_path):
    build_run(tmp_path)
    (tmp_path / BASES / "alpha" / POSITIONS).unlink()
    table = position_table(position_masses(tmp_path))
    assert "alpha--untuned" not in set(table.model) and "beta-2--untuned" in set(table.model)
    assert len(table) == 9
    line = position_lines(tmp_path)[0]
    assert line.startswith("position preference, alpha: P(first) / P(last) untuned not measured; its 4")


def test_position_lines_give_untuned_and_finetune_mean_per_backbone(tmp_path):
    build_run(tmp_path)
    table = position_table(position_masses(tmp_path)).set_index("model")
    lines = position_lines(tmp_path)
    assert len(lines) == 2 and "alpha" in lines[0] and "beta/2" in lines[1]
    tuned = table[(table.backbone == "alpha") & (table.instruction != "untuned")]
    assert f"{table.loc['alpha--untuned', 'p_first']:.3f}" in lines[0]
    assert f"its 4 finetune(s) {tuned.p_first.mean():.3f}" in lines[0]


def test_old_run_without_position_tables_reports_without_that_section(tmp_path):
    build_run(tmp_path, positions=False)
    run_analysis([tmp_path], tmp_path / ANALYSIS, permutations=9, band=0.088)
    html = (tmp_path / ANALYSIS / REPORT).read_text()
    assert "Position preference" not in html and "run-section" not in html
    assert not (tmp_path / ANALYSIS / POSITION_TABLE).exists()
    assert position_lines(tmp_path) == []


def test_report_of_a_full_run_folder_shows_all_three_sections_in_order(tmp_path):
    build_run(tmp_path)
    changes, ratios = transfer_tables()
    changes.to_csv(tmp_path / TRANSFER, index=False)
    ratios.to_csv(tmp_path / TRANSFER_RATIO, index=False)
    pd.DataFrame({"backbone": ["alpha"] * 2, "dataset": ["tulu"] * 2, "arm": ["original", "shuffled-outputs"],
                  "models": [2, 2], "learned": [2, 2], "task_accuracy": [0.61, 0.42],
                  "task_accuracy_sd": [0.01, 0.02], "bias_distance_to_original": [0.05, 0.07]}
                 ).to_csv(tmp_path / FORMAT_ONLY, index=False)
    run_analysis([tmp_path], tmp_path / ANALYSIS, permutations=9, band=0.088)
    html = (tmp_path / ANALYSIS / REPORT).read_text()
    titles = ["Position preference", "Format-only arms", "Bias transfer"]
    starts = [html.index(f"<h2>{t}") for t in titles]
    assert starts == sorted(starts)
    assert html.count('class="run-section"') == 3
    assert "seed-to-seed spread" in html and "0.420" in html
    assert html[starts[0]:starts[1]].count("<img") == 1 and html[starts[2]:].count("<img") == 1
    assert html[starts[2]:].count("<table") == 2
    written = pd.read_csv(tmp_path / ANALYSIS / POSITION_TABLE)
    assert len(written) == 10 and {"p_first", "p_last", "p_uniform"} <= set(written.columns)


def test_transfer_section_from_the_ratio_table_alone_has_no_figure(tmp_path):
    _, ratios = transfer_tables()
    ratios.to_csv(tmp_path / TRANSFER_RATIO, index=False)
    (section,) = run_sections(tmp_path)
    assert section.title == "Bias transfer" and section.figure is None and len(section.tables) == 1


def test_transfer_figure_draws_one_reference_missing_cis_and_a_ci_that_misses_its_estimate(tmp_path):
    changes, _ = transfer_tables(("alpha",))
    changes = changes[changes.versus == "control"].reset_index(drop=True)
    changes.loc[:1, ["ci_low", "ci_high"]] = np.nan
    changes.loc[2, "ci_low"] = changes.loc[2, "change"] + 0.05
    changes.to_csv(tmp_path / TRANSFER, index=False)
    (section,) = run_sections(tmp_path)
    assert section.figure and len(section.tables) == 1


def test_user_strings_in_section_tables_and_titles_are_escaped(tmp_path):
    from crosstune.analysis.attribute import analyze
    from crosstune.analysis.simulate import simulate
    from crosstune.report.html import render_report

    changes, _ = transfer_tables(("<script>alert(1)</script>", "a$b"))
    changes.to_csv(tmp_path / TRANSFER, index=False)
    render_report(analyze(simulate(seed=0), n_permutations=9), tmp_path / REPORT,
                  sections=run_sections(tmp_path))
    html = (tmp_path / REPORT).read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_transfer_csv_without_its_columns_is_a_named_error(tmp_path):
    pd.DataFrame({"backbone": ["a"], "bias": ["halo"], "change": [0.1]}).to_csv(tmp_path / TRANSFER,
                                                                                index=False)
    with pytest.raises(CrosstuneError, match=r"transfer.csv lacks column\(s\) \['role', 'versus'"):
        run_sections(tmp_path)


def test_header_only_format_only_csv_gives_no_section(tmp_path):
    (tmp_path / FORMAT_ONLY).write_text("backbone,dataset,arm,models,learned,task_accuracy,"
                                        "task_accuracy_sd,bias_distance_to_original\n")
    assert run_sections(tmp_path) == []


def test_report_command_prints_a_position_line_per_backbone(tmp_path, monkeypatch, capsys):
    import sys

    from crosstune.cli import main

    build_run(tmp_path)
    monkeypatch.setattr(sys, "argv", ["crosstune", "report", str(tmp_path), "--permutations", "9"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code in (0, None)
    out = " ".join(capsys.readouterr().out.split())
    assert "position preference, alpha: P(first) / P(last) untuned" in out
    assert "position preference, beta/2:" in out
    assert (tmp_path / ANALYSIS / REPORT).read_text().count('class="run-section"') == 1


def test_section_figures_decode_in_headless_chromium(tmp_path):
    import subprocess

    from test_report_browser import CHROMIUM, PROBE

    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium (installed by .ci/run)")
    build_run(tmp_path)
    transfer_tables()[0].to_csv(tmp_path / TRANSFER, index=False)
    run_analysis([tmp_path], tmp_path / ANALYSIS, permutations=9, band=0.088)
    probed = tmp_path / "probed.html"
    probed.write_text((tmp_path / ANALYSIS / REPORT).read_text().replace("</body>", PROBE))
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=5000", "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    # six analysis figures, then the position and transfer sections' figures
    assert 'data-probe="images=8;decoded=8;' in result.stdout, result.stderr[-2000:]
