"""`crosstune biases validate`: every known-answer respondent through the whole pipeline.

Invariants (the suite's answer key): respondents without the bias (position-only, uniform,
invariant) score |score| < 1e-9 on every bias and metric in the counterbalanced mode; the
textbook respondent scores > 0 on every bias and metric and > 0.3 on the expected ratio.
Designs whose published zero point is offset (``Bias.zero_offset``) report the unbiased
respondents' score instead of checking it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from crosstune.evaluate import EvalConfig, build_pairs, score_pairs
from crosstune.respondents.scripted import POSITION_ONLY, UNBIASED, scripted_respondents
from crosstune.scores.metrics import METRICS
from crosstune.suite.registry import select_biases

ZERO_TOLERANCE = 1e-9
TEXTBOOK_EXPECTED_MIN = 0.3


@dataclass
class Validation:
    scores: pd.DataFrame
    """Long table: respondent, bias, metric, score."""
    offsets: dict[str, str]
    """bias -> why its zero point is offset (scores of unbiased respondents reported, not checked)."""
    failures: list[str]
    orders: int

    def table(self, metric: str = "expected") -> pd.DataFrame:
        """bias x respondent for one metric."""
        chosen = self.scores[self.scores.metric == metric]
        order = [r.name for r in scripted_respondents()]
        return chosen.pivot(index="bias", columns="respondent", values="score")[order]

    def to_json(self) -> dict[str, dict[str, dict[str, float]]]:
        """respondent -> bias -> metric -> score."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for row in self.scores.itertuples():
            out.setdefault(row.respondent, {}).setdefault(row.bias, {})[row.metric] = row.score
        return out


def validate(biases: list[str] | None = None, pairs: int = 20, seed: int = 0, orders: int = 2,
             scenarios: Path | None = None) -> Validation:
    """Run every scripted respondent over the selected biases and check the invariants."""
    config = EvalConfig(biases=biases, pairs=pairs, seed=seed, orders=orders,  # type: ignore[arg-type]
                        scenarios=scenarios)
    built = build_pairs(config)
    offsets = {b.name: b.zero_offset for b in select_biases(biases) if b.zero_offset}
    rows = []
    for respondent in scripted_respondents():
        table, _ = score_pairs(respondent, built)
        means = table.groupby("bias")[[f"score_{m}" for m in METRICS]].mean()
        for bias, values in means.iterrows():
            for m in METRICS:
                rows.append({"respondent": respondent.name, "bias": bias, "metric": m,
                             "score": float(values[f"score_{m}"])})
    scores = pd.DataFrame(rows)
    return Validation(scores, offsets, _failures(scores, offsets, orders), orders)


def _failures(scores: pd.DataFrame, offsets: dict[str, str], orders: int) -> list[str]:
    checked_zero = UNBIASED if orders == 2 else tuple(r for r in UNBIASED if r not in POSITION_ONLY)
    out = []
    for row in scores.itertuples():
        where = f"{row.respondent} on {row.bias} ({row.metric})"
        if row.respondent in checked_zero and row.bias not in offsets:
            if not abs(row.score) < ZERO_TOLERANCE:
                out.append(f"{where}: {row.score:+.3g}, expected 0")
        elif row.respondent == "textbook":
            floor = TEXTBOOK_EXPECTED_MIN if row.metric == "expected" else 0.0
            if not row.score > floor:
                out.append(f"{where}: {row.score:+.3g}, expected above {floor:g}")
    return out
