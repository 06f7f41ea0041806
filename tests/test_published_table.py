"""A published per-bias table as published: biases x models, model names in mixed case, a
task-accuracy row, and released models that belong to no cell (a fixture built here)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crosstune.errors import CrosstuneError
from crosstune.report.folder import run_analysis

README_RULES = ["backbone=^(olmo|t5)", "instruction=(flan|tulu)", r"seed=seed(\d+)"]
BIASES = ["Anchoring", "Framing Effect", "status quo bias", "Halo_Effect", "decoy effect"]


def published_table(folder: Path, seed: int = 0) -> Path:
    """biases x models; OLMo is +0.3 on anchoring, Tulu +0.3 on framing, MMLU differs by backbone,
    seeds differ by 0.03; two released models sit in no cell."""
    rng = np.random.default_rng(seed)
    columns = {}
    for backbone in ("OLMo-7B", "T5-11B"):
        for data in ("Flan", "Tulu"):
            for s in (1, 2, 3):
                scores = rng.normal(0, 0.03, len(BIASES))
                scores[0] += 0.3 * (backbone == "OLMo-7B")
                scores[1] += 0.3 * (data == "Tulu")
                mmlu = 0.62 if backbone == "OLMo-7B" else 0.48
                columns[f"{backbone}-{data}-{'Seed' if s == 2 else 'seed'}{s}"] = [*scores, mmlu]
    columns["OLMo-7B-Instruct"] = [0.5, 0.1, 0.0, 0.0, 0.0, 0.6]
    columns["Flan-T5-XXL"] = [-0.4, 0.2, 0.1, 0.0, 0.0, 0.5]
    path = folder / "published.csv"
    pd.DataFrame(columns, index=pd.Index([*BIASES, "MMLU"], name="bias")).to_csv(path)
    return path


def test_a_released_model_in_no_cell_is_named_with_the_way_out(tmp_path):
    with pytest.raises(CrosstuneError, match="--drop"):
        run_analysis([published_table(tmp_path)], tmp_path / "out", rules=README_RULES,
                     exclude=("mmlu",), permutations=19, html=False)


def test_the_readme_example_runs_on_a_published_table_as_published(tmp_path):
    result = run_analysis([published_table(tmp_path)], tmp_path / "out", rules=README_RULES,
                          exclude=("mmlu",), drop=("flan-t5-xxl",),
                          references=["olmo=olmo-7b-instruct"], band=0.088, permutations=19,
                          html=False)
    origins = result.tables["origins"].set_index("bias")
    assert origins.loc["Anchoring", "origin"] == "pretraining"
    assert origins.loc["Framing Effect", "origin"] == "instruction data"
    assert "MMLU" not in origins.index and len(result.matrix.scores) == 12
    assert set(result.matrix.factors.backbone) == {"olmo", "t5"}  # OLMo / T5 alike
    assert "differ from their backbone's reference model (not an untuned backbone)" in result.verdict
    assert "this design detects backbone effects of" in result.verdict
    assert (tmp_path / "out" / "origins.csv").is_file()


def test_a_task_accuracy_row_left_in_is_named_and_kept_out_of_the_bias_family(tmp_path):
    result = run_analysis([published_table(tmp_path)], tmp_path / "out", rules=README_RULES,
                          drop=("Flan-T5-XXL", "OLMo-7B-Instruct"), permutations=19, html=False)
    origins = result.tables["origins"].set_index("bias")
    assert origins.loc["MMLU", "family"] == "other"
    assert (origins.family.drop("MMLU") == "registered").all()
    assert any("matching no registered bias" in note and "['MMLU']" in note for note in result.notes)
