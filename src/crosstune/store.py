"""Run folders on disk: every file written atomically, manifest last, no silent overwrite."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from crosstune.errors import CrosstuneError

MANIFEST = "manifest.json"


def slug(text: str) -> str:
    """A folder-safe name: anything but letters, digits, '.', '_' and '-' becomes '-'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")


def _atomic(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: Path, data: Any) -> None:
    _atomic(path, lambda p: p.write_text(json.dumps(data, indent=2, default=str) + "\n"))


def write_text(path: Path, text: str) -> None:
    _atomic(path, lambda p: p.write_text(text))


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    _atomic(path, lambda p: frame.to_parquet(p, index=False))


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    _atomic(path, lambda p: frame.to_csv(p, index=False))


def read_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CrosstuneError(f"{path} is not valid JSON ({err}); move the folder away") from err


def claim_folder(folder: Path, fingerprint: str) -> None:
    """Refuse a folder holding another model's results; a rerun of the same model may refresh it."""
    if folder.exists() and not folder.is_dir():
        raise CrosstuneError(f"output path {folder} exists and is not a folder")
    manifest = read_manifest(folder)
    if manifest is None:
        if folder.exists() and any(folder.iterdir()):
            raise CrosstuneError(
                f"output folder {folder} is not empty and holds no crosstune manifest; "
                "choose another --out"
            )
        return
    theirs = manifest.get("model", {}).get("fingerprint")
    if theirs != fingerprint:
        raise CrosstuneError(
            f"output folder {folder} holds results of another model "
            f"({manifest.get('model', {}).get('name')}, fingerprint {theirs}); "
            "choose another --out or remove that folder"
        )
