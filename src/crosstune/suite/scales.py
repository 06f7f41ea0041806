"""Answer scales shared by the templates, always listed in canonical (index) order."""

from __future__ import annotations

AGREE7 = (
    "Strongly disagree", "Disagree", "Somewhat disagree", "Neither agree nor disagree",
    "Somewhat agree", "Agree", "Strongly agree",
)
LIKELY7 = (
    "Very unlikely", "Unlikely", "Somewhat unlikely", "As likely as not",
    "Somewhat likely", "Likely", "Very likely",
)
QUALITY7 = ("Very poor", "Poor", "Below average", "Average", "Above average", "Good", "Excellent")
CONFIDENT7 = (
    "Not at all confident", "Slightly confident", "Somewhat confident", "Moderately confident",
    "Quite confident", "Very confident", "Completely confident",
)
PERCENT11 = tuple(f"{10 * i}%" for i in range(11))
COUNT11 = tuple(str(i) for i in range(11))


def prefer7(first: str, second: str) -> tuple[str, ...]:
    """Seven steps from strongly preferring `first` to strongly preferring `second`."""
    return (
        f"Strongly prefer {first}", f"Prefer {first}", f"Slightly prefer {first}",
        "No preference", f"Slightly prefer {second}", f"Prefer {second}",
        f"Strongly prefer {second}",
    )


def change11(step: int) -> tuple[str, ...]:
    """Eleven signed percentage changes, e.g. step 10: -50% ... +50%."""
    return tuple(f"{v:+d}%" if v else "0%" for v in range(-5 * step, 5 * step + 1, step))
