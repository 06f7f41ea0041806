"""Where crosstune keeps its data: converted models and the result cache (override with
CROSSTUNE_HOME)."""

from __future__ import annotations

import os
from pathlib import Path

from crosstune.errors import CrosstuneError


def home() -> Path:
    """The crosstune data folder, created on first use."""
    root = Path(os.environ.get("CROSSTUNE_HOME", Path.home() / ".cache" / "crosstune"))
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CrosstuneError(f"cannot create the crosstune data folder {root} ({err.strerror}); "
                             "set CROSSTUNE_HOME to a writable folder") from err
    return root
