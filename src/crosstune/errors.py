"""The one exception type users see: a problem with their input, said in one line with a fix."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with control characters (NUL, ESC of a colour code, ...) shown as `\\xNN`, so a
    user's string cannot drive the terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def page_text(value: object) -> object:
    """A page template's value with control characters shown as the terminal shows them (`\\xNN`):
    jinja's `finalize` for every page; escaped HTML (a table) stays escaped."""
    from markupsafe import Markup

    if isinstance(value, Markup):
        return Markup(printable(str(value)))
    return printable(value) if isinstance(value, str) else value


def terminal(text: object) -> str:
    """A user's string ready for rich: control characters shown, markup escaped."""
    from rich.markup import escape

    return escape(printable(str(text)))


class CrosstuneError(Exception):
    """Bad input or environment; the CLI prints it as one line and exits with code 2."""


def validated(config: type[T], **values: Any) -> T:
    """`config(**values)` for options a user typed; a bad value is one error naming the option."""
    from pydantic import ValidationError

    try:
        return config(**values)
    except ValidationError as err:
        first = err.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_", "-") if first["loc"] else "a value"
        raise CrosstuneError(f"{option}: {first['msg']}") from err


def read_user_text(path: Path, what: str, give: str) -> str:
    """A text file a user gave: a folder, a missing, binary or non-UTF-8 file is one line naming
    the file and the line; a UTF-8 byte-order mark is accepted. `give`: what to give instead."""
    if path.is_dir():
        raise CrosstuneError(f"{what} {path} is a folder; give {give}")
    if not path.is_file():
        raise CrosstuneError(f"{what} {path} not found; give {give}")
    data = path.read_bytes()
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        raise CrosstuneError(f"{what} {path}, line {line}: a NUL byte (binary file?); give {give}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise CrosstuneError(f"{what} {path}, line {line}: not UTF-8 (byte {data[err.start]:#x}; "
                             "latin-1 or another encoding?); save it as UTF-8") from None
