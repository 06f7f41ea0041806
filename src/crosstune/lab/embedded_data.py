"""Two offline instruction datasets of clearly different style, generated from templates.

Small stand-ins for real instruction mixtures: `flan-style` answers tersely, task-style, in the
manner of Flan; `tulu-style` answers conversationally with explanations, in the manner of
Tulu 2. Both cover the same underlying tasks, so what differs is the style of instruction data.
"""

from __future__ import annotations

import random
from collections.abc import Callable

Task = Callable[[random.Random], tuple[str, str, str, str]]
"""rng -> (terse prompt, terse answer, conversational prompt, explained answer)."""

_ADJ = {"happy": "sad", "large": "small", "early": "late", "strong": "weak", "cheap": "expensive",
        "bright": "dark", "simple": "complex", "fast": "slow", "warm": "cold", "open": "closed"}
_CAPITALS = {"France": "Paris", "Japan": "Tokyo", "Kenya": "Nairobi", "Peru": "Lima",
             "Canada": "Ottawa", "Norway": "Oslo", "Egypt": "Cairo", "India": "New Delhi",
             "Chile": "Santiago", "Poland": "Warsaw", "Ghana": "Accra", "Spain": "Madrid"}
_GOOD = ("loved", "enjoyed", "was delighted by", "warmly recommend")
_BAD = ("hated", "regretted", "was disappointed by", "would never recommend")
_THINGS = ("the new phone", "this restaurant", "the hotel stay", "the training course",
           "the delivery service", "the film", "the software update", "the museum tour")


def _add(rng: random.Random) -> tuple[str, str, str, str]:
    a, b = rng.randint(2, 999), rng.randint(2, 999)
    return (f"Add {a} and {b}.", str(a + b),
            f"Could you help me work out what {a} plus {b} is?",
            f"Of course! Adding {a} and {b}: combine the hundreds, tens and ones and carry where "
            f"needed. The total is {a + b}. Happy to check more sums with you.")


def _sentiment(rng: random.Random) -> tuple[str, str, str, str]:
    good = rng.random() < 0.5
    thing = rng.choice(_THINGS)
    verb = rng.choice(_GOOD if good else _BAD)
    label = "positive" if good else "negative"
    text = f"I {verb} {thing}."
    return (f"Sentiment (positive/negative): {text}", label,
            f"What do you think the feeling is behind this review: \"{text}\"",
            f"The review sounds {label}. The phrase \"{verb}\" signals "
            f"{'approval' if good else 'dissatisfaction'} with {thing}, so the overall tone is "
            f"{label}.")


def _parity(rng: random.Random) -> tuple[str, str, str, str]:
    n = rng.randint(1, 99999)
    kind = "even" if n % 2 == 0 else "odd"
    return (f"Even or odd: {n}", kind, f"Is {n} an even number or an odd one?",
            f"{n} is {kind}. A quick way to tell is the last digit, {n % 10}: numbers ending in "
            f"0, 2, 4, 6 or 8 are even, the rest are odd.")


def _sort(rng: random.Random) -> tuple[str, str, str, str]:
    nums = rng.sample(range(1, 100), rng.randint(3, 6))
    listed, ordered = ", ".join(map(str, nums)), ", ".join(map(str, sorted(nums)))
    return (f"Sort ascending: {listed}", ordered,
            f"I have these numbers: {listed}. Can you put them in order from smallest to largest?",
            f"Sure! Going from the smallest to the largest, the order is {ordered}. I compared "
            "the values one by one and placed each where it belongs.")


def _antonym(rng: random.Random) -> tuple[str, str, str, str]:
    word, opposite = rng.choice(list(_ADJ.items()))
    subject = rng.choice(("room", "market", "plan", "answer", "season", "signal", "road"))
    return (f"Antonym of '{word}' (as in a {word} {subject}):", opposite,
            f"What's the opposite of '{word}' when describing a {subject}?",
            f"A good opposite of '{word}' here is '{opposite}'. For example, a {word} {subject} "
            f"versus a {opposite} {subject}; the two words sit at the ends of the same scale.")


def _capital(rng: random.Random) -> tuple[str, str, str, str]:
    country, capital = rng.choice(list(_CAPITALS.items()))
    n = rng.randint(2, 40)
    return (f"Capital of {country}? (quiz item {n})", capital,
            f"For question {n} of my quiz: what is the capital city of {country}?",
            f"The capital of {country} is {capital}. It is the seat of the national government, "
            f"so it's the answer for question {n}. Good luck with the rest of the quiz!")


TASKS: tuple[Task, ...] = (_add, _sentiment, _parity, _sort, _antonym, _capital)


def generate(style: str, n: int, seed: int = 0) -> list[dict]:
    """n distinct single-turn chat examples in the given style ('flan-style' or 'tulu-style')."""
    rng = random.Random(f"{style}:{seed}")
    seen: set[str] = set()
    rows: list[dict] = []
    while len(rows) < n:
        terse_q, terse_a, chat_q, chat_a = rng.choice(TASKS)(rng)
        question, answer = (terse_q, terse_a) if style == "flan-style" else (chat_q, chat_a)
        if question in seen:
            continue
        seen.add(question)
        rows.append({"messages": [{"role": "user", "content": question},
                                  {"role": "assistant", "content": answer}]})
    return rows


STYLES = ("flan-style", "tulu-style")
