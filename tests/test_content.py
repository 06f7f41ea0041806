"""Content sensitivity: a model that answers by letter position is told apart from one that reads
the options, per bias, and the origin calls and the verdict use it."""

import pandas as pd

from crosstune.analysis.attribute import analyze, content_check
from crosstune.analysis.origins import OriginSettings, origin_table
from crosstune.analysis.simulate import PlantedBias, simulate_pairs
from crosstune.scores.content import content_sensitivity


def _pairs(bias: str, listed: list[float], reversed_canonical: list[float], n: int = 4) -> pd.DataFrame:
    """n pairs whose both sides got these canonical probabilities in the two orders."""
    orders = [listed, reversed_canonical]
    return pd.DataFrame({"bias": [bias] * n, "probs_control_orders": [orders] * n,
                         "probs_treatment_orders": [orders] * n})


def test_position_only_answers_read_no_content_and_content_answers_do():
    # by position: letter A gets 0.7 in both orders, so the canonical option flips
    by_position = _pairs("a", [0.7, 0.3], [0.3, 0.7])
    by_content = _pairs("b", [0.7, 0.3], [0.7, 0.3])
    three = _pairs("c", [0.6, 0.3, 0.1], [0.1, 0.3, 0.6])  # reversal shows option 3 first
    table = content_sensitivity(pd.concat([by_position, by_content, three]))
    assert table.loc["a", "content_share"] == 0 and table.loc["a", "order_shift"] == 0
    assert table.loc["b", "content_share"] == 1 and abs(table.loc["b", "order_shift"] - 0.4) < 1e-12
    assert table.loc["c", "content_share"] == 0


def test_a_bias_the_models_answer_by_position_is_not_measured_never_no_signal():
    m, pairs = simulate_pairs({"blind": PlantedBias(noise_sd=0.001), "read": PlantedBias(noise_sd=0.001)})
    reading = pd.Series({"blind": 0.0, "read": 1.0})
    table = origin_table(m, pairs, OriginSettings(resamples=0), reading).set_index("bias")
    assert table.loc["blind", "origin"] == "not measured"
    assert table.loc["blind", "reason"] == "content-blind"
    assert table.loc["read", "origin"] == "no signal"


def test_finetunes_that_lost_their_backbones_content_reading_are_flagged_in_the_verdict():
    m, pairs = simulate_pairs({"x": PlantedBias(noise_sd=0.01), "y": PlantedBias(noise_sd=0.01)})
    references = {b: m.scores[m.factors.backbone == b].mean().rename(f"{b}--untuned") for b in ("b0", "b1")}
    content = pd.DataFrame(1.0, index=[*m.scores.index, "b0--untuned", "b1--untuned"], columns=["x", "y"])
    content.loc[m.factors.index[m.factors.backbone == "b1"]] = 0.0
    check = content_check(m, content, references)
    assert check.answers_by_position.sum() == 6
    result = analyze(m, n_permutations=19, references=references, band=0.088, pairs=pairs, content=content)
    assert "6 of 12 models answer by letter position where their reference read the content" in result.verdict


def test_the_job_table_flags_a_finetune_that_answers_by_position_where_its_backbone_read(tmp_path):
    from crosstune.scores.content import POSITION_FLAG, content_gate
    from crosstune.store import PAIRS

    for name, reversed_canonical in (("base", [0.7, 0.3]), ("tuned", [0.3, 0.7])):
        (tmp_path / name).mkdir()
        _pairs("a", [0.7, 0.3], reversed_canonical).to_parquet(tmp_path / name / PAIRS)
    assert content_gate(tmp_path / "tuned", tmp_path / "base") == f"0% (untuned 100%), {POSITION_FLAG}"
    assert content_gate(tmp_path / "base", tmp_path / "base") == "100% (untuned 100%)"
    assert content_gate(tmp_path / "missing", tmp_path / "base") == ""
