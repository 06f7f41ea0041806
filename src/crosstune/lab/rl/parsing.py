"""A completion read as an answer letter and a stated confidence, and its answer format.

The RL prompt asks for the letter of one option and a confidence from 0 to 100%. Nothing here
forces a format: the census (`classify`) records which of the formats a model already knows it
uses ("A", "(A)", "Answer: A", "The answer is A", "Option A", the option's text, unparseable),
and the rewards read the answer and the confidence whatever the format.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from crosstune.suite.types import OPTION_LABELS

FORMATS = ("letter", "paren", "answer-colon", "answer-is", "option", "free-text", "unparseable")
"""Every answer format the census counts, in the order the parser tries them (bar free text)."""

_PATTERNS: dict[str, re.Pattern[str]] = {
    "answer-is": re.compile(r"\banswer\s+(?:is|would be|will be)\s*:?\s*(?:option\s+)?\(?([A-K])\b\)?",
                            re.IGNORECASE),
    "answer-colon": re.compile(r"\banswer\s*:\s*(?:option\s+)?\(?([A-K])\b\)?", re.IGNORECASE),
    "paren": re.compile(r"\(([A-K])\)"),
    "letter": re.compile(r"^\s*\**([A-K])\**(?=$|[\s.,:;)\-])"),
    "option": re.compile(r"\boption\s+([A-K])\b", re.IGNORECASE),
}
_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%")
_CONFIDENCE = re.compile(r"confiden\w*\W{0,4}?(\d{1,3}(?:\.\d+)?|0?\.\d+)", re.IGNORECASE)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Parsed:
    """What a completion states: the chosen option (index), the confidence in [0, 1], the format."""

    answer: int | None
    confidence: float | None
    format: str

    @property
    def answered(self) -> bool:
        return self.answer is not None

    @property
    def complete(self) -> bool:
        """Both an answer and a confidence were read."""
        return self.answer is not None and self.confidence is not None


def _letter(match: re.Match[str], n_choices: int) -> int | None:
    index = OPTION_LABELS.index(match.group(1).upper())
    return index if index < n_choices else None


def read_answer(text: str, choices: tuple[str, ...]) -> tuple[int | None, str]:
    """(option index, format) of the first answer stated (earliest in the text; at one place, the
    format listed first); free text when exactly one option's text appears; else unparseable."""
    found = []
    for rank, (name, pattern) in enumerate(_PATTERNS.items()):
        for match in pattern.finditer(text):
            if (index := _letter(match, len(choices))) is not None:
                found.append((match.start(), rank, index, name))
                break
    if found:
        _, _, index, name = min(found)
        return index, name
    lowered = text.lower()
    named = [i for i, c in enumerate(choices)
             if re.search(rf"(?<!\w){re.escape(c.lower())}(?!\w)", lowered)]
    if len(named) == 1:
        return named[0], "free-text"
    return None, "unparseable"


def read_confidence(text: str) -> float | None:
    """A percentage, or the number after 'confidence' (0-1 or 0-100), as a share in [0, 1]."""
    for pattern in (_CONFIDENCE, _PERCENT):
        match = pattern.search(text)
        if match is None:
            continue
        value = float(match.group(1))
        value = value / 100 if pattern is _PERCENT or value > 1 else value
        if 0 <= value <= 1:
            return value
    return None


def parse(text: str, choices: tuple[str, ...]) -> Parsed:
    """The completion's answer, confidence and format."""
    answer, form = read_answer(text, choices)
    return Parsed(answer, read_confidence(text), form)


def format_shares(formats: Iterable[str]) -> dict[str, float]:
    """Share of each census format (every format listed, zeros included)."""
    counts = Counter(formats)
    total = sum(counts.values())
    return {f: (counts[f] / total if total else 0.0) for f in FORMATS}


def entropy_bits(shares: Iterable[float]) -> float:
    """Shannon entropy in bits of a distribution over formats (0 = one format only)."""
    return float(-sum(p * math.log2(p) for p in shares if p > 0))


def repetitive(text: str, n: int = 3) -> bool:
    """A degenerate completion: some word n-gram occurs twice (answer repeated, a phrase looping)."""
    words = [w.lower() for w in _WORD.findall(text)]
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return len(grams) != len(set(grams))
