"""The one writer of a probe's folder: tables, page and a manifest of one shape, written whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crosstune.probes.interface import ModelRequest, ProbeResult
from crosstune.provenance import provenance
from crosstune.store import MANIFEST, REPORT, staged, write_csv, write_json, write_parquet, write_text


def manifest(kind: str, request: ModelRequest, config: dict[str, Any], result: ProbeResult,
             identity: dict[str, Any] | None) -> dict[str, Any]:
    """Kind, request, config, the probe's facts, notes, timing per phase, files, provenance."""
    return {"kind": kind, **({"identity": identity} if identity is not None else {}),
            "request": request.describe(), "config": config, **result.facts, "notes": result.notes,
            "timing_s": result.timing_s, "files": sorted([*result.tables, REPORT]),
            "provenance": provenance().model_dump(mode="json")}


def write_probe_folder(folder: Path, result: ProbeResult, page: str) -> None:
    """Tables (.csv or .parquet by name), the page and, last, the manifest, in one rename."""
    with staged(folder) as staging:
        for name, frame in result.tables.items():
            (write_parquet if name.endswith(".parquet") else write_csv)(staging / name, frame)
        write_text(staging / REPORT, page)
        write_json(staging / MANIFEST, result.manifest)
