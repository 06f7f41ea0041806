"""Where crosstune keeps converted models and the result cache (override with CROSSTUNE_HOME)."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The crosstune data folder, created on first use."""
    root = Path(os.environ.get("CROSSTUNE_HOME", Path.home() / ".cache" / "crosstune"))
    root.mkdir(parents=True, exist_ok=True)
    return root
