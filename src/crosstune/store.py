"""Every folder crosstune writes: its file names, who owns it, how it is written and read back.

No other module spells these names. Three rules hold for every folder:
- a folder belongs to one kind of result (an evaluation, a cross-tuning run, an analysis) and,
  for evaluations, to one model and one set of settings; anything else is refused, never
  overwritten;
- a finished folder appears whole: it is written in a hidden staging folder and renamed, so a
  kill leaves the old folder or the new one, never a mix;
- files are created with the user's umask, so a shared folder is readable by collaborators.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ValidationError

from crosstune.errors import CrosstuneError
from crosstune.records import EvalManifest, JobStatus

MANIFEST = "manifest.json"  # every evaluation and analysis folder: kind, identity, provenance
PAIRS = "pairs.parquet"  # evaluation: one row per pair
BIASES = "biases.csv"  # evaluation: one row per bias
POSITIONS = "positions.csv"  # evaluation: option mass by presented position
SPEC = "spec.json"  # cross-tuning run: the experiment spec that owns the folder
JOB = "job.json"  # training job: its JobSpec
STATUS = "status.json"  # training job: done or failed, quality check
ADAPTER = "adapter"  # training job: the LoRA adapter folder
EVAL = "eval"  # training job: its evaluation folder
JOBS = "jobs"  # cross-tuning run: one folder per job
BASES = "base"  # cross-tuning run: one evaluation folder per untuned backbone
SCORES = "scores.csv"  # cross-tuning run: model x bias scores
LABELS = "labels.csv"  # cross-tuning run: model -> backbone, instruction, seed, learned
FORMAT_ONLY = "format_only.csv"  # cross-tuning run: task accuracy and bias distance per format arm
TRANSFER = "transfer.csv"  # cross-tuning run: per-bias change of the bias-injection arms, with CIs
TRANSFER_RATIO = "transfer_ratio.csv"  # cross-tuning run: held-out / train change, with CIs
TRANSFER_DATA = "transfer_data.json"  # cross-tuning run: training pairs' overlap with the evaluation
POSITION_TABLE = "position_preference.csv"  # analysis folder: P(first), P(last), uniform per model
ANALYSIS = "analysis"  # cross-tuning run: the analysis folder `crosstune report` writes
LOG = "crosstune.log"  # library logs of the command that wrote the folder
REPORT = "report.html"  # analysis: the self-contained report

Kind = Literal["crosstune-eval", "crosstune-analysis", "crosstune-run", "crosstune-values",
               "crosstune-calibration", "crosstune-faithfulness"]
_NAMES = {"crosstune-eval": "an evaluation", "crosstune-analysis": "an analysis",
          "crosstune-run": "a cross-tuning run", "crosstune-values": "a values probe",
          "crosstune-calibration": "a calibration probe",
          "crosstune-faithfulness": "a faithfulness probe"}

# column names other modules read from BIASES
BIAS_COLUMN = "bias"
SCORE_COLUMN = "score"
CI_COLUMNS = ("ci_low", "ci_high")
POSITION_COLUMNS = ["n_options", "position", "label", "mass", "uniform", "n_prompts"]  # of POSITIONS
# columns of TRANSFER and TRANSFER_RATIO (written by lab.transfer, read by the report)
TRANSFER_COLUMNS = ["backbone", "bias", "role", "versus", "change", "ci_low", "ci_high", "seeds", "pairs"]
TRANSFER_RATIO_COLUMNS = ["backbone", "versus", "ratio", "ci_low", "ci_high", "train_change",
                          "heldout_change"]


def slug(text: str) -> str:
    """A folder-safe name: anything but letters, digits, '.', '_' and '-' becomes '-'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "unnamed"


def _sibling(path: Path, tag: str) -> Path:
    return path.parent / f".{path.name}.{tag}-{uuid.uuid4().hex[:8]}"


def _atomic(path: Path, write: Callable[[Path], Any]) -> None:
    _make_parent(path)
    tmp = _sibling(path, "tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _as_json(value: Any) -> Any:
    """A record (anywhere in the data) as the JSON it stands for; anything else as text."""
    return value.model_dump() if isinstance(value, BaseModel) else str(value)


def write_json(path: Path, data: Any) -> None:
    _atomic(path, lambda p: p.write_text(json.dumps(data, indent=2, default=_as_json) + "\n"))


def write_text(path: Path, text: str) -> None:
    _atomic(path, lambda p: p.write_text(text))


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    _atomic(path, lambda p: frame.to_parquet(p, index=False))


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    _atomic(path, lambda p: frame.to_csv(p, index=False))


def read_json(path: Path) -> Any:
    """A JSON file crosstune wrote; a damaged one is named with what to do."""
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CrosstuneError(f"{path} is damaged (not valid JSON: {err}); "
                             f"move {path.parent} aside and run again") from err


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest, or None when it has none (not finished, or not crosstune's)."""
    path = folder / MANIFEST
    if not path.exists():
        return None
    manifest = read_json(path)
    if not isinstance(manifest, dict) or manifest.get("kind") not in _NAMES:
        raise CrosstuneError(f"{path} is not a crosstune manifest; move {folder} aside")
    return manifest


class OtherKind(CrosstuneError):
    """A folder holds another kind of result than the one asked for."""

    def __init__(self, folder: Path, kind: object) -> None:
        super().__init__(f"{folder} holds {kind_name(str(kind))}")
        self.kind = str(kind)


def read_eval_manifest(folder: Path) -> EvalManifest | None:
    """An evaluation folder's manifest as a record, or None when it has none. A manifest without
    a kind (the earliest versions) is an evaluation's; one of another kind raises OtherKind, one
    that is not JSON or names no model a CrosstuneError."""
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        kind = data.get("kind", "crosstune-eval")
    except (ValueError, AttributeError):
        raise CrosstuneError(f"{path} is damaged (not a JSON object)") from None
    if kind != "crosstune-eval":
        raise OtherKind(folder, kind)
    try:
        return EvalManifest.model_validate(data)
    except ValidationError as err:
        raise CrosstuneError(f"{path} is damaged ({err.errors()[0]['msg']})") from None


def read_status(folder: Path) -> JobStatus | None:
    """A job folder's status, or None while the job has not finished."""
    path = folder / STATUS
    if not path.exists():
        return None
    try:
        return JobStatus.model_validate(read_json(path))
    except ValidationError as err:
        raise CrosstuneError(f"{path} is damaged ({err.errors()[0]['msg']}); remove "
                             f"{path.parent} to train that job again") from err


def write_status(folder: Path, status: JobStatus) -> None:
    """status.json with the keys a status of its state has (no quality for a failed job, no
    gate without a reference model)."""
    data = {key: value for key, value in status.model_dump().items() if value is not None}
    if status.quality is not None:
        data["quality"] = status.quality.model_dump(exclude_none=True)
    write_json(folder / STATUS, data)


def read_pair_scores(folder: Path) -> pd.Series:
    """One evaluation's per-pair scores in its own metric, indexed by (bias, pair_id)."""
    metric = read_eval_manifest(folder).config["metric"]  # type: ignore[union-attr]
    table = pd.read_parquet(folder / PAIRS, columns=["bias", "pair_id", f"score_{metric}"])
    return table.set_index(["bias", "pair_id"])[f"score_{metric}"]


def read_biases(folder: Path) -> pd.DataFrame:
    """An evaluation folder's per-bias table, indexed by bias."""
    path = folder / BIASES
    try:
        return pd.read_csv(path).set_index(BIAS_COLUMN)
    except (OSError, ValueError, KeyError, pd.errors.ParserError) as err:
        raise CrosstuneError(f"{path} cannot be read ({type(err).__name__}); "
                             f"move {folder} aside and evaluate again") from err


def ensure_writable(folder: Path) -> None:
    """Fail before any work when `folder` cannot be created or written."""
    if folder.exists() and not folder.is_dir():
        raise CrosstuneError(f"output path {folder} exists and is not a folder; choose another")
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise CrosstuneError(f"cannot write to {folder}: {probe} is not a writable folder; "
                             "choose another output folder")


def ensure_file_writable(path: Path, option: str) -> None:
    """Fail before any work when the file `path` cannot be written (a folder, a missing or
    read-only parent)."""
    if path.is_dir():
        raise CrosstuneError(f"{option} {path} is a folder; give a file name")
    parent = path.parent
    if not parent.is_dir():
        raise CrosstuneError(f"{option} {path}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CrosstuneError(f"{option} {path}: cannot write there (read-only); choose another path")


def register_kind(kind: str, name: str) -> None:
    """A folder kind a probe adds: its manifest's `kind`, called `name` ('a calibration probe')."""
    _NAMES.setdefault(kind, name)  # type: ignore[call-overload]


def kind_name(kind: str) -> str:
    """'an evaluation', 'a calibration probe', ... for messages."""
    return _NAMES.get(kind, repr(kind))  # type: ignore[call-overload]


def _describe(manifest: dict[str, Any]) -> str:
    model = manifest.get("model", {}).get("name")
    return _NAMES[manifest["kind"]] + (f" of model {model}" if model else "")


def claim(folder: Path, kind: Kind, identity: dict[str, Any] | None = None) -> bool:
    """May `folder` receive a result of `kind` and `identity`? True when it holds that very result.

    Refused: a non-empty folder that crosstune did not write, a folder of another kind, an
    result with another identity (an evaluation: another model or other settings).
    `identity=None` checks the kind only (before a model is loaded, or for kinds that a rerun
    may simply replace, like an analysis). A run folder is claimed by its spec file.
    """
    ensure_writable(folder)
    if not folder.exists():
        return False
    if kind == "crosstune-run" or (folder / SPEC).exists():
        return _claim_run(folder, kind, identity)
    manifest = read_manifest(folder)
    if manifest is None:
        if any(p for p in folder.iterdir() if not p.name.startswith(".")):
            raise CrosstuneError(f"output folder {folder} is not empty and was not written by "
                                 "crosstune; choose another output folder")
        return False
    if manifest["kind"] != kind:
        raise CrosstuneError(f"{folder} holds {_describe(manifest)}; write {_NAMES[kind]} "
                             "into another folder")
    if identity is None:
        return False
    theirs = manifest.get("identity") or {}
    if theirs != identity:
        changed = sorted(k for k in set(identity) | set(theirs) if identity.get(k) != theirs.get(k))
        raise CrosstuneError(f"{folder} holds {_describe(manifest)} with other "
                             f"{' and '.join(changed)}; choose another output folder "
                             "(a folder is reused only to resume the same model and settings)")
    return True


def _claim_run(folder: Path, kind: Kind, spec: dict[str, Any] | None) -> bool:
    if kind != "crosstune-run":
        raise CrosstuneError(f"{folder} is a cross-tuning run folder; write {_NAMES[kind]} "
                             "into another folder")
    if not (folder / SPEC).exists():
        if any(p for p in folder.iterdir() if not p.name.startswith(".")):
            raise CrosstuneError(f"{folder} is not empty and holds no crosstune run; "
                                 "use a new experiment name or another --out")
        return False
    stored = read_json(folder / SPEC)
    if spec is not None and stored != spec:
        changed = sorted(k for k in set(spec) | set(stored) if spec.get(k) != stored.get(k))
        raise CrosstuneError(f"{folder} was made by a different spec (changed: {', '.join(changed)}); "
                             "use a new experiment name or remove the folder")
    return True


WRITTEN = ".crosstune-written.json"  # every folder written whole: the names crosstune put in it
# names crosstune writes, for folders written before WRITTEN existed
_OURS = {MANIFEST, PAIRS, BIASES, POSITIONS, SPEC, JOB, STATUS, ADAPTER, EVAL, LOG, REPORT,
         POSITION_TABLE, "analysis.json", WRITTEN}


def _make_parent(path: Path) -> None:
    """Create `path`'s parent folders; a file standing where a folder belongs is a named error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), path.parent)
        raise CrosstuneError(f"cannot write {path}: {blocker} is a file, not a folder (was it "
                             "replaced while this command ran?); move it aside and run again") from err


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _remove_stale_staging(folder: Path) -> None:
    """Staging folders of killed commands; those of a command still running are left alone."""
    for stale in folder.parent.glob(f".{folder.name}.staging-*"):
        owner = stale.name.rsplit(".staging-", 1)[1].split("-")[0]
        if owner.isdigit() and _alive(int(owner)):
            continue
        shutil.rmtree(stale, ignore_errors=True)


def _written_by_us(folder: Path) -> set[str] | None:
    """The names crosstune wrote into `folder`, or None when it is not a crosstune folder."""
    listing = folder / WRITTEN
    if listing.is_file():
        try:
            names = json.loads(listing.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            names = None
        if isinstance(names, list):
            return {str(n) for n in names} | {WRITTEN}
    if (folder / MANIFEST).is_file() or (folder / JOB).is_file() or (folder / STATUS).is_file():
        return _OURS
    return None


def _replace(folder: Path, staging: Path) -> None:
    """Put `staging` where `folder` is; the user's own files in `folder` move along, kept."""
    for _ in range(10):  # another command may finish the same folder at the same moment
        if not folder.exists() and not folder.is_symlink():
            try:
                staging.rename(folder)
                return
            except OSError:
                continue  # it appeared just now: replace it as below
        if not folder.is_dir():
            raise CrosstuneError(f"{folder} appeared as a file while this command ran; nothing was "
                                 "written: move it aside and run again (finished work is cached)")
        ours = _written_by_us(folder)
        theirs = [p for p in folder.iterdir() if not re.fullmatch(r"\..*\.tmp-[0-9a-f]{8}", p.name)]
        if ours is None and any(not p.name.startswith(".") for p in theirs):
            raise CrosstuneError(f"{folder} appeared while this command ran and holds files crosstune "
                                 "did not write; nothing was written: move it aside and run again")
        old = _sibling(folder, "old")
        try:
            folder.rename(old)
        except FileNotFoundError:
            continue
        kept = [p.name for p in theirs if p.name not in (ours or set())
                and not (staging / p.name).exists()]
        for name in kept:
            (old / name).rename(staging / name)
        try:
            staging.rename(folder)
        except OSError as err:
            for name in kept:
                (staging / name).rename(old / name)
            raise CrosstuneError(f"another command wrote {folder} at the same moment; the earlier "
                                 f"folder is in {old}: move it back and run again") from err
        shutil.rmtree(old, ignore_errors=True)
        return
    raise CrosstuneError(f"{folder} keeps changing while this command writes it; is another "
                         "crosstune command writing the same folder? Run again when it is done")


@contextmanager
def staged(folder: Path) -> Iterator[Path]:
    """Write a whole folder in a hidden sibling; on success it replaces `folder` in one rename.

    Only what crosstune wrote is replaced: a user's own files in `folder` (notes.txt) are kept.
    A kill leaves the old folder (or none) plus hidden debris that the next write removes; the
    staging folder of a command still running is never removed.
    """
    _make_parent(folder)
    _remove_stale_staging(folder)
    staging = folder.parent / f".{folder.name}.staging-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        staging.mkdir()
    except FileNotFoundError as err:  # the parent vanished between the two calls
        raise CrosstuneError(f"cannot write {folder}: {folder.parent} vanished while this command "
                             "ran; run again") from err
    try:
        yield staging
        write_json(staging / WRITTEN, sorted(p.name for p in staging.iterdir()
                                             if not p.name.startswith(".")))
        _replace(folder, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@dataclass(frozen=True)
class EvalFiles:
    """What an evaluation folder holds, as frames and a manifest."""

    pairs: pd.DataFrame
    biases: pd.DataFrame
    positions: pd.DataFrame | None
    manifest: EvalManifest


def write_eval(folder: Path, files: EvalFiles) -> None:
    """The whole evaluation folder at once (manifest included), replacing an earlier one."""
    with staged(folder) as staging:
        write_parquet(staging / PAIRS, files.pairs)
        write_csv(staging / BIASES, files.biases)
        if files.positions is not None:
            write_csv(staging / POSITIONS, files.positions)
        write_json(staging / MANIFEST, files.manifest)
