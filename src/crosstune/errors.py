"""The one exception type users see: a problem with their input, said in one line with a fix."""

from __future__ import annotations

import re
from typing import Any, TypeVar

T = TypeVar("T")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with control characters (NUL, ESC of a colour code, ...) shown as `\\xNN`, so a
    user's string cannot drive the terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


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
