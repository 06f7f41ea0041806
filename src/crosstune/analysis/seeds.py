"""Seed variability (arXiv 2507.07186): how much training noise alone moves the bias vector."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crosstune.analysis.matrix import BiasMatrix

GROUP = ["backbone", "instruction"]


def _groups(m: BiasMatrix):
    return m.scores.groupby([m.factors[c] for c in GROUP], sort=True)


def seed_sd(m: BiasMatrix) -> pd.DataFrame:
    """Per (backbone, instruction): per-bias SD across seeds (ddof=1); `mean_sd` over biases."""
    rows = []
    for key, block in _groups(m):
        if len(block) < 2:
            continue
        sd = block.std(ddof=1)
        rows.append({"backbone": key[0], "instruction": key[1], "n_seeds": len(block),
                     "mean_sd": float(sd.mean()), **sd.to_dict()})
    return pd.DataFrame(rows)


def sign_agreement(m: BiasMatrix) -> pd.DataFrame:
    """Per group and bias: share of seeds whose sign equals the majority sign."""
    rows = []
    for key, block in _groups(m):
        signs = np.sign(block.to_numpy())
        majority = np.sign(signs.sum(axis=0))
        agree = (signs == majority).mean(axis=0)
        rows.append({"backbone": key[0], "instruction": key[1], "n_seeds": len(block),
                     "mean_agreement": float(agree.mean()),
                     **dict(zip(block.columns, agree.tolist(), strict=True))})
    return pd.DataFrame(rows)


def _direction(values: np.ndarray, band: float) -> np.ndarray:
    return np.where(np.abs(values) <= band, 0, np.sign(values))


def reference_agreement(m: BiasMatrix, references: dict[str, pd.Series], band: float = 0.088
                        ) -> pd.DataFrame:
    """Per group: share of biases whose direction (±, or neutral within ±band) the seeds'
    majority shares with the backbone's reference model (e.g. the originally released finetune).
    """
    rows = []
    for key, block in _groups(m):
        if key[0] not in references:
            continue
        ref = _direction(references[key[0]].reindex(block.columns).to_numpy(dtype=float), band)
        seeds = _direction(block.to_numpy(), band)
        majority = np.array([pd.Series(col).mode().iloc[0] for col in seeds.T])
        rows.append({"backbone": key[0], "instruction": key[1], "reference": references[key[0]].name,
                     "band": band, "share_preserved": float((majority == ref).mean())})
    return pd.DataFrame(rows)
