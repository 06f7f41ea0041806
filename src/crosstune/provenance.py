"""What produced a result: package versions, git revision, machine, time."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import platform
import subprocess
from pathlib import Path

from crosstune.records import Provenance

_PACKAGES = ("crosstune", "torch", "transformers", "peft", "tokenizers", "numpy", "pandas",
             "scipy", "safetensors", "gguf")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_revision() -> str | None:
    """The crosstune source revision when running from a git checkout (dirty marked)."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}{'+dirty' if dirty else ''}"


def provenance() -> Provenance:
    import torch

    return Provenance(created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                      packages=package_versions(), git_revision=git_revision(),
                      python=platform.python_version(), platform=platform.platform(),
                      torch_threads=torch.get_num_threads())
