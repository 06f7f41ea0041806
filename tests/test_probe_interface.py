"""A new probe needs a config, a `run` and a page section; the runner gives it the rest.

`PromptLength` is the minimal example of docs/architecture.md: it counts a prompt's tokens in
every model of a request. The runner must claim and write its folder, time it, give it a
manifest of the shared shape, an autoescaped page, and the progress display.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from pydantic import BaseModel

from crosstune.errors import CrosstuneError
from crosstune.probes.interface import ModelRequest, PageSection, ProbeDefaults, ProbeResult
from crosstune.probes.runner import run_probe
from crosstune.probes.targets import targets
from crosstune.progress import Progress
from crosstune.store import MANIFEST, REPORT

LENGTHS_CSV = "lengths.csv"


class PromptLengthConfig(BaseModel):
    text: str = "<b>Is 2 + 2 = 4?</b>"


class PromptLength(ProbeDefaults):
    name = "prompt-length"

    def run(self, targets_: ModelRequest, config: PromptLengthConfig, progress: Progress) -> ProbeResult:
        progress.stage("counting tokens", len(targets_.models))
        rows = []
        for target, backend in targets(targets_):
            rows.append({"model": target.model, "tokens": backend.count_tokens(config.text)})
            progress.advance(1)
        return ProbeResult({LENGTHS_CSV: pd.DataFrame(rows)}, {"prompt": config.text})

    def section(self, result: ProbeResult) -> PageSection:
        return PageSection("prompt length", f"Tokens of {result.manifest['prompt']}",
                           tables=[("Tokens per model", result.tables[LENGTHS_CSV])])


class Recorder:
    def __init__(self) -> None:
        self.stages: list[tuple[str, int | None]] = []
        self.done = 0

    def stage(self, text: str, total: int | None = None) -> None:
        self.stages.append((text, total))

    def advance(self, done: int) -> None:
        self.done += done


def test_a_probe_of_a_config_a_run_and_a_section_gets_folder_manifest_page_and_progress(
        saved_tiny_model, tmp_path):
    from transformers import AutoTokenizer

    out = tmp_path / "lengths"
    progress = Recorder()
    request = ModelRequest((str(saved_tiny_model),))
    result = run_probe(PromptLength(), request, PromptLengthConfig(), out, progress)

    tokenizer = AutoTokenizer.from_pretrained(saved_tiny_model)
    expected = len(tokenizer(PromptLengthConfig().text, add_special_tokens=False)["input_ids"])
    assert pd.read_csv(out / LENGTHS_CSV).to_dict("records") == [{"model": "tiny-model", "tokens": expected}]
    assert result.folder == out
    assert progress.stages == [("counting tokens", 1)] and progress.done == 1

    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest == result.manifest
    assert manifest["kind"] == "crosstune-prompt-length"
    assert manifest["request"]["models"] == [str(saved_tiny_model)]
    assert manifest["config"] == {"text": PromptLengthConfig().text}
    assert manifest["prompt"] == PromptLengthConfig().text
    assert manifest["files"] == [LENGTHS_CSV, REPORT]
    assert set(manifest["timing_s"]) == {"total"} and manifest["timing_s"]["total"] >= 0
    assert manifest["provenance"]["packages"]["torch"]

    page = (out / REPORT).read_text()
    assert page.startswith("<!doctype html>") and "<h1>prompt length</h1>" in page
    assert "&lt;b&gt;Is 2 + 2 = 4?&lt;/b&gt;" in page and "<b>Is" not in page  # the lead and the config
    assert "<h2>Tokens per model</h2>" in page and "tiny-model" in page


def test_the_new_probes_folder_is_its_own_kind(saved_tiny_model, tmp_path):
    from crosstune.probes.calibration import CALIBRATION, CalibrationConfig

    out = tmp_path / "lengths"
    request = ModelRequest((str(saved_tiny_model),))
    run_probe(PromptLength(), request, PromptLengthConfig(), out)
    run_probe(PromptLength(), request, PromptLengthConfig(text="again"), out)  # a rerun replaces it
    assert json.loads((out / MANIFEST).read_text())["prompt"] == "again"
    with pytest.raises(CrosstuneError, match="holds a prompt-length probe"):
        run_probe(CALIBRATION, request, CalibrationConfig(), out)
    assert (PromptLength().folder(request, PromptLengthConfig()).as_posix()
            == "runs/probe-prompt-length-tiny-model")
