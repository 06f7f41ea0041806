"""The one shape of progress: a display with named stages and units of work done.

The engine, respondents and probes report units done through `Advance` (a display's `advance`);
commands, pipelines and probes announce stages through a `Progress`. Torch-free, so every
layer can import it.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from types import FrameType
from typing import Protocol

log = logging.getLogger("crosstune")

Advance = Callable[[int], None]
"""Units of work just done (prompts scored, texts generated)."""


class Progress(Protocol):
    """What a caller sees of a long job: named stages (with a size when known) and units done."""

    def stage(self, text: str, total: int | None = None) -> None: ...

    def advance(self, done: int) -> None: ...


class LogProgress:
    """Stages to the log, units unseen: what a library call shows when the caller gives no display."""

    def stage(self, text: str, total: int | None = None) -> None:
        InterruptLatch.check()
        log.info(text)

    def advance(self, done: int) -> None:
        """Units are not logged: a log line per batch would drown the log."""
        InterruptLatch.check()


class InterruptLatch:
    """Ctrl-C that cannot be lost.

    Python raises KeyboardInterrupt wherever the signal lands; when that is a `__del__` or a
    callback whose exceptions the interpreter ignores (tokenizer loading hits these), the
    interrupt vanishes and the job runs on. The latch remembers it, and every stage and unit of
    progress raises it again.
    """

    requested = False

    @classmethod
    def install(cls) -> None:
        signal.signal(signal.SIGINT, cls._on_signal)

    @classmethod
    def _on_signal(cls, signum: int, frame: FrameType | None) -> None:
        cls.requested = True
        if not _inside_finaliser(frame):  # raised there, it would print a traceback and vanish
            raise KeyboardInterrupt

    @classmethod
    def check(cls) -> None:
        """Raise the interrupt again if one arrived and was swallowed on its way."""
        if cls.requested:
            raise KeyboardInterrupt


def _inside_finaliser(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False
