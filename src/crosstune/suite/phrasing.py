"""Shared sentence openers, so every template starts its scenario in several wordings."""

from __future__ import annotations

from crosstune.suite.types import Draw


def intro(d: Draw) -> str:
    """'You are the <role> of a <industry>.' in one of several wordings."""
    s = d.s
    return d.pick((
        f"You are the {s.role} at a {s.industry}.",
        f"Imagine you work as {s.role} for a mid-sized {s.industry}.",
        f"As {s.role} of a {s.industry}, you are responsible for a major decision.",
        f"You lead a team as {s.role} in a {s.industry}.",
    ))


def plans(d: Draw) -> str:
    """Two named plans built from the scenario's decision and its alternative."""
    return d.pick((
        f"Plan 1 is to {d.s.decision}. Plan 2 is to {d.s.alternative}.",
        f"Two plans are on the table. Plan 1: {d.s.decision}. Plan 2: {d.s.alternative}.",
        f"Your board wants you to choose between Plan 1 ({d.s.decision}) and Plan 2 "
        f"({d.s.alternative}).",
    ))
