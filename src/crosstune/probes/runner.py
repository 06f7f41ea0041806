"""`run_probe`: the one call behind every probe command, the same for every probe.

The folder is checked and claimed before any model loads; the probe runs; its result is
timed, given a manifest and a page, and written whole.
"""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import BaseModel

from crosstune.probes.interface import ModelRequest, Probe, ProbeResult
from crosstune.probes.page import render_page, text_figures
from crosstune.probes.writer import manifest, write_probe_folder
from crosstune.progress import LogProgress, Progress
from crosstune.store import claim, register_kind


def probe_kind(probe: Probe) -> str:
    """The manifest kind of a probe's folder, known to the store for its messages."""
    kind = f"crosstune-{probe.name}"
    register_kind(kind, f"a {probe.name} probe")
    return kind


def run_probe(probe: Probe, targets: ModelRequest, config: BaseModel, out: Path | None = None,
              progress: Progress | None = None) -> ProbeResult:
    """Claim the folder (`out`, else the probe's default), run, write; the result knows its folder."""
    kind = probe_kind(probe)
    folder = out or probe.folder(targets, config)
    identity = probe.identity(targets, config)
    claim(folder, kind, identity)  # type: ignore[arg-type]
    started = time.perf_counter()
    result = probe.run(targets, config, progress or LogProgress())
    result.timing_s["total"] = round(time.perf_counter() - started, 2)
    result.folder = folder
    result.manifest = manifest(kind, targets, config.model_dump(mode="json"), result, identity)
    with text_figures():
        section = probe.section(result)
    write_probe_folder(folder, result, render_page(section, result.notes))
    return result
