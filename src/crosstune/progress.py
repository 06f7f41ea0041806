"""The one shape of progress: a display with named stages and units of work done.

The engine, respondents and probes report units done through `Advance` (a display's `advance`);
commands, pipelines and probes announce stages through a `Progress`. Torch-free, so every
layer can import it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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
        log.info(text)

    def advance(self, done: int) -> None:
        """Units are not logged: a log line per batch would drown the log."""
