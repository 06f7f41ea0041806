"""What determines an evaluation's numbers besides the model, in a module light enough for the
experiment spec (no torch): a spec's [evaluation] section is this config with its own defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from crosstune.choices import Method, MetricName


class EvalConfig(BaseModel):
    """Everything that determines an evaluation's numbers besides the model."""

    model_config = ConfigDict(extra="forbid")

    biases: list[str] | None = Field(None, description="bias names; None = the whole suite")
    pairs: int = Field(20, description="control/treatment pairs per bias")
    seed: int = Field(0, description="seeds pair generation, option order and bootstrap")
    method: Method = Field(
        "probability", description="read option probabilities, or generate and parse")
    metric: MetricName = Field(
        "expected", description="headline score: expected Malberg ratio, choice (ratio on the "
        "argmax) or linear (expected index)")
    orders: Literal[1, 2] = Field(
        2, description="2: every prompt as listed and reversed, averaged; 1: reversals balanced "
        "within each sign stratum")
    scenarios: Path | None = Field(
        None, description="text file, one scenario per line, replacing the built-in pool")
    token_budget: int = Field(2048, description="max padded tokens per forward batch")
