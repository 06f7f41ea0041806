"""The shape every probe has, as respondents have theirs: which models, a `run`, a page section.

A probe is a name, a config (a pydantic model), `run(targets, config, progress) -> ProbeResult`
and `section(result) -> PageSection`. `crosstune.probes.runner.run_probe` does the rest for
every probe alike: the output folder and its claim, timing, provenance, the manifest, the tables
and the autoescaped page.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import pandas as pd
from pydantic import BaseModel

from crosstune.errors import CrosstuneError
from crosstune.experiment.run_folder import is_run_folder
from crosstune.models.loader import FormatChoice
from crosstune.progress import Progress
from crosstune.served.settings import ServedSettings, served_id
from crosstune.store import slug

TargetKind = Literal["lm", "reward", "external"]
FORMATS = ("auto", "chat", "plain")


@dataclass(frozen=True)
class ModelRequest:
    """Which model(s) a probe reads and how to load them.

    `models` are embedded names, folders, hub ids or .gguf files (a `crosstune run` folder
    stands for every model of the run) for LMs, reward-model folders or hub ids for `reward`,
    score CSVs for `external`.
    """

    models: tuple[str, ...]
    kind: TargetKind = "lm"
    adapter: str | None = None
    prompt_format: FormatChoice = "auto"
    device: str | None = None
    dtype: str | None = None
    trust_remote_code: bool = False
    served: ServedSettings | None = None
    """The server of `served:ID` models (and of a run folder's models, asked on a server)."""

    def __post_init__(self) -> None:
        if self.prompt_format not in FORMATS:
            raise CrosstuneError(f"--format must be auto, chat or plain, got {self.prompt_format!r}")

    def describe(self) -> dict[str, Any]:
        """The request as the manifest records it (JSON: a list of models)."""
        plain = {k: v for k, v in asdict(self).items() if k != "served"}
        served = self.served.model_dump(mode="json", exclude={"model"}) if self.served else None
        return {**plain, "models": list(self.models), **({"served": served} if served else {})}

    def slug(self) -> str:
        """A folder-safe name of the models (and the adapter)."""
        names = [slug(served_id(m) or Path(m).name or m) for m in self.models]
        return "-".join(names) + (f"-{slug(Path(self.adapter).name)}" if self.adapter else "")


@dataclass
class ProbeResult:
    """What a probe found: its tables by file name (.csv or .parquet) and facts for the manifest.

    The runner fills `folder` and `manifest` (as written) after the folder is written.
    """

    tables: dict[str, pd.DataFrame]
    facts: dict[str, Any] = field(default_factory=dict)
    """Keys the manifest adds to its shared block (counts, methods, definitions)."""
    notes: list[str] = field(default_factory=list)
    timing_s: dict[str, float] = field(default_factory=dict)
    """Seconds per phase; the runner adds `total`."""
    folder: Path = Path()
    manifest: dict[str, Any] = field(default_factory=dict)


@dataclass
class PageSection:
    """A probe's part of its page: the page base adds title, notes, escaping and layout."""

    title: str
    lead: str
    figures: list[tuple[str, str]] = field(default_factory=list)
    """(heading, base64 PNG)."""
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    settings: dict[str, Any] | None = None
    number_format: str = ".3f"


ConfigT = TypeVar("ConfigT", bound=BaseModel, contravariant=True)


class Probe(Protocol[ConfigT]):
    """A probe: `name` names its folders (RUN/probes/NAME, runs/probe-NAME-MODEL) and its
    manifest kind (crosstune-NAME)."""

    name: str

    def run(self, targets: ModelRequest, config: ConfigT, progress: Progress) -> ProbeResult: ...

    def section(self, result: ProbeResult) -> PageSection: ...

    def folder(self, targets: ModelRequest, config: ConfigT) -> Path: ...

    def identity(self, targets: ModelRequest, config: ConfigT) -> dict[str, Any] | None: ...


class ProbeDefaults:
    """The folder and claim most probes want; a probe subclasses this and writes the rest."""

    name: str

    def folder(self, targets: ModelRequest, config: BaseModel) -> Path:
        """RUN/probes/NAME for one run folder, else runs/probe-NAME-MODELS."""
        if len(targets.models) == 1 and is_run_folder(Path(targets.models[0])):
            return Path(targets.models[0]) / "probes" / self.name
        return Path("runs") / f"probe-{self.name}-{targets.slug()}"

    def identity(self, targets: ModelRequest, config: BaseModel) -> dict[str, Any] | None:
        """None: a rerun of the same probe may replace the folder."""
        return None
