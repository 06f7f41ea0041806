"""Answer scales shared by the templates, listed in canonical order: index 0 is the option
Malberg et al. list first, so the ratio metric is comparable with published numbers."""

from __future__ import annotations

LIKELY7 = (
    "Very likely", "Likely", "Somewhat likely", "Neither likely nor unlikely",
    "Somewhat unlikely", "Unlikely", "Very unlikely",
)
GOOD7 = ("Very good", "Good", "Somewhat good", "Neither good nor bad", "Somewhat bad", "Bad",
         "Very bad")
QUALITY7 = ("Very poor", "Poor", "Below average", "Average", "Above average", "Good", "Excellent")
HIGH7 = ("Very high", "High", "Somewhat high", "Neither high nor low", "Somewhat low", "Low",
         "Very low")
IMPORTANT7 = (
    "Very important", "Important", "Somewhat important", "Neither important nor unimportant",
    "Somewhat unimportant", "Unimportant", "Very unimportant",
)
TRUE7 = (
    "Very true of me", "True of me", "Somewhat true of me", "Neither true nor untrue of me",
    "Somewhat untrue of me", "Untrue of me", "Very untrue of me",
)
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
    """Eleven signed percentage changes from the most negative, e.g. step 10: -50% ... +50%."""
    return tuple(f"{v:+d}%" if v else "0%" for v in range(-5 * step, 5 * step + 1, step))
