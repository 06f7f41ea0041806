"""Instruction datasets from the hub, local JSONL/Parquet, or the embedded generators.

Every source becomes a list of `Example`: the conversation up to the last assistant turn
(prompt) and that turn (completion), so the loss can be taken on completions only. A source may
end in `?transform=NAME&seed=N` to train on a format-only variant (see `transforms`). A
`bias:NAME,...?direction=...` source renders the bias suite's own prompts (see `bias_data`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crosstune.errors import CrosstuneError
from crosstune.experiment.embedded_data import STYLES, generate
from crosstune.experiment.sources import (
    BiasSource,
    DataSource,
    EmbeddedSource,
    FileSource,
    HubSource,
    PlainSource,
    parse_dataset,
)
from crosstune.experiment.transforms import apply_transform
from crosstune.lab.bias_data import bias_examples, interleave, mixed_count
from crosstune.suite.prompts import ANSWER_CUE

EMBEDDED_SIZE = 2400


@dataclass(frozen=True)
class Example:
    prompt: tuple[tuple[str, str], ...]
    """(role, content) turns before the answer."""
    completion: str
    task: str | None = None
    """Task label where the source has one (rows' `task` field): shuffles stay within a task."""
    input: str | None = None
    """The instance without its instruction (rows' `input` field)."""
    output_space: str | None = None
    """The allowed answers or their form (rows' `output_space` field)."""
    cue: str = ""
    """Text that opens the answer turn (the bias suite's answer cue); the completion follows it."""


def _extras(row: dict) -> dict[str, str | None]:
    return {key: (str(row[key]) if row.get(key) is not None else None)
            for key in ("task", "input", "output_space")}


def _from_row(row: Any, where: str) -> Example:
    if not isinstance(row, dict):
        raise CrosstuneError(f"{where}: row is not an object")
    if "messages" in row:
        messages = row["messages"]
        ok = (isinstance(messages, list) and len(messages) >= 2
              and all(isinstance(m, dict) and "role" in m and "content" in m for m in messages)
              and messages[-1]["role"] == "assistant")
        if not ok:
            raise CrosstuneError(f"{where}: 'messages' must be a list of {{role, content}} turns "
                                 "ending with an assistant turn")
        turns = tuple((str(m["role"]), str(m["content"])) for m in messages[:-1])
        return Example(turns, str(messages[-1]["content"]), **_extras(row))
    if "prompt" in row and "completion" in row:
        return Example((("user", str(row["prompt"])),), str(row["completion"]), **_extras(row))
    raise CrosstuneError(f"{where}: needs 'messages' or 'prompt' and 'completion' fields, "
                         f"found {sorted(row)}")


def _read_local(path: Path) -> list[dict]:
    if not path.exists():
        raise CrosstuneError(f"dataset file {path} not found")
    if path.suffix == ".parquet":
        import pandas as pd

        try:
            return pd.read_parquet(path).to_dict(orient="records")
        except (OSError, ValueError) as err:
            raise CrosstuneError(f"dataset file {path} is not a readable Parquet file "
                                 f"({type(err).__name__}: {str(err)[:120]})") from err
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise CrosstuneError(f"dataset file {path} is not UTF-8 text (byte {err.start}); "
                             "save it as UTF-8 JSON lines") from err
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise CrosstuneError(f"{path}, row {number}: not valid JSON ({err.msg})") from err
    return rows


def _read_hub(name: str) -> list[dict]:
    try:
        import datasets
    except ImportError as err:
        raise CrosstuneError("hub datasets need the 'datasets' package: pip install datasets") from err
    try:
        return list(datasets.load_dataset(name, split="train"))
    except Exception as err:
        raise CrosstuneError(f"cannot load dataset {name!r} from the Hugging Face hub "
                             f"({type(err).__name__}); use a local JSONL/Parquet file or "
                             f"embedded:{STYLES[0]} / embedded:{STYLES[1]}") from err


def load_examples(source: DataSource | str) -> list[Example]:
    """All examples of a dataset (its record, or the string a spec would hold: see `sources`)."""
    source = parse_dataset(source) if isinstance(source, str) else source
    if isinstance(source, BiasSource):
        return _bias_dataset(source)
    return apply_transform(_load_base(source), source.transform, source.seed)


def _bias_dataset(source: BiasSource) -> list[Example]:
    """The suite's prompts with their trained answers, shuffled in with the mix dataset's rows."""
    rows = [Example((("user", prompt.text),), completion, task=f"bias:{prompt.pair.bias}", cue=ANSWER_CUE)
            for prompt, completion in bias_examples(source)]
    ordinary = load_examples(source.mix) if source.mix else []
    return interleave(rows, ordinary, mixed_count(len(rows), source.ratio), source.seed)


def _load_base(source: PlainSource) -> list[Example]:
    """The dataset's rows before any transform."""
    if isinstance(source, EmbeddedSource):
        rows = generate(source.style, EMBEDDED_SIZE)
    elif isinstance(source, FileSource):
        rows = _read_local(source.path)
    else:
        assert isinstance(source, HubSource)
        rows = _read_hub(source.base)
    if not rows:
        raise CrosstuneError(f"dataset {source.base} has no rows")
    return [_from_row(row, f"{source.base}, row {i}") for i, row in enumerate(rows, start=1)]


def split(examples: list[Example], heldout: int) -> tuple[list[Example], list[Example]]:
    """(train, held-out): the last `heldout` examples are held out, the rest train."""
    if heldout >= len(examples):
        raise CrosstuneError(f"held-out size {heldout} leaves no training data "
                             f"({len(examples)} examples)")
    return examples[:-heldout], examples[-heldout:]
