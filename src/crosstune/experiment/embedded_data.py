"""Two offline instruction datasets of clearly different style, generated from templates.

Small stand-ins for real instruction mixtures: `flan-style` answers tersely, task-style, in the
manner of Flan; `tulu-style` answers conversationally with explanations, in the manner of
Tulu 2. Both cover the same underlying tasks, so what differs is the style of instruction data.

Every task's answer is checkable, so the same generators also give a held-out multiple-choice
test set (`heldout_items`) built from vocabulary and numbers the training rows never use.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from crosstune.errors import CrosstuneError


@dataclass(frozen=True)
class Item:
    """One task instance, in both styles, with what format-only transforms and tests need."""

    task: str
    terse_q: str
    terse_a: str
    chat_q: str
    chat_a: str
    input: str
    """The instance alone, without the instruction (e.g. the review, the two numbers)."""
    output_space: str
    """The allowed answers (a list where the task has one) or their form."""
    choices: tuple[str, ...]
    """Multiple-choice options for held-out accuracy, the right one included."""


@dataclass(frozen=True)
class Vocabulary:
    adjectives: dict[str, str]
    capitals: dict[str, str]
    things: tuple[str, ...]


Task = Callable[[random.Random, Vocabulary], Item]

TRAIN_VOCAB = Vocabulary(
    adjectives={"happy": "sad", "large": "small", "early": "late", "strong": "weak",
                "cheap": "expensive", "bright": "dark", "simple": "complex", "fast": "slow",
                "warm": "cold", "open": "closed"},
    capitals={"France": "Paris", "Japan": "Tokyo", "Kenya": "Nairobi", "Peru": "Lima",
              "Canada": "Ottawa", "Norway": "Oslo", "Egypt": "Cairo", "India": "New Delhi",
              "Chile": "Santiago", "Poland": "Warsaw", "Ghana": "Accra", "Spain": "Madrid"},
    things=("the new phone", "this restaurant", "the hotel stay", "the training course",
            "the delivery service", "the film", "the software update", "the museum tour"),
)
HELDOUT_VOCAB = Vocabulary(
    adjectives={"heavy": "light", "loud": "quiet", "rich": "poor", "young": "old",
                "wide": "narrow", "deep": "shallow", "hard": "soft", "clean": "dirty"},
    capitals={"Italy": "Rome", "Germany": "Berlin", "Greece": "Athens", "Sweden": "Stockholm",
              "Turkey": "Ankara", "Australia": "Canberra", "Mexico": "Mexico City",
              "Argentina": "Buenos Aires"},
    things=("the concert", "the laptop", "the bakery", "the bike rental", "the podcast",
            "the theme park", "the dentist visit", "the coffee machine"),
)
"""Held-out accuracy uses words and facts no training row contains."""

_GOOD = ("loved", "enjoyed", "was delighted by", "warmly recommend")
_BAD = ("hated", "regretted", "was disappointed by", "would never recommend")
_SUBJECTS = ("room", "market", "plan", "answer", "season", "signal", "road")


def _add(rng: random.Random, vocab: Vocabulary) -> Item:
    a, b = rng.randint(2, 999), rng.randint(2, 999)
    total = a + b
    return Item("add", f"Add {a} and {b}.", str(total),
                f"Could you help me work out what {a} plus {b} is?",
                f"Of course! Adding {a} and {b}: combine the hundreds, tens and ones and carry where "
                f"needed. The total is {total}. Happy to check more sums with you.",
                f"{a} and {b}", "a whole number",
                tuple(str(total + d) for d in (0, 1, -1, 10)))


def _sentiment(rng: random.Random, vocab: Vocabulary) -> Item:
    good = rng.random() < 0.5
    thing = rng.choice(vocab.things)
    verb = rng.choice(_GOOD if good else _BAD)
    label = "positive" if good else "negative"
    text = f"I {verb} {thing}."
    return Item("sentiment", f"Sentiment (positive/negative): {text}", label,
                f"What do you think the feeling is behind this review: \"{text}\"",
                f"The review sounds {label}. The phrase \"{verb}\" signals "
                f"{'approval' if good else 'dissatisfaction'} with {thing}, so the overall tone is "
                f"{label}.", text, "positive / negative", (label, "negative" if good else "positive"))


def _parity(rng: random.Random, vocab: Vocabulary) -> Item:
    n = rng.randint(1, 99999)
    kind = "even" if n % 2 == 0 else "odd"
    return Item("parity", f"Even or odd: {n}", kind, f"Is {n} an even number or an odd one?",
                f"{n} is {kind}. A quick way to tell is the last digit, {n % 10}: numbers ending in "
                f"0, 2, 4, 6 or 8 are even, the rest are odd.", str(n), "even / odd",
                (kind, "odd" if kind == "even" else "even"))


def _sort(rng: random.Random, vocab: Vocabulary) -> Item:
    nums = rng.sample(range(1, 100), rng.randint(3, 6))
    listed, ordered = ", ".join(map(str, nums)), ", ".join(map(str, sorted(nums)))
    backwards = ", ".join(map(str, sorted(nums, reverse=True)))
    return Item("sort", f"Sort ascending: {listed}", ordered,
                f"I have these numbers: {listed}. Can you put them in order from smallest to largest?",
                f"Sure! Going from the smallest to the largest, the order is {ordered}. I compared "
                "the values one by one and placed each where it belongs.",
                listed, "a comma-separated list of numbers", (ordered, backwards, listed))


def _antonym(rng: random.Random, vocab: Vocabulary) -> Item:
    word, opposite = rng.choice(list(vocab.adjectives.items()))
    subject = rng.choice(_SUBJECTS)
    return Item("antonym", f"Antonym of '{word}' (as in a {word} {subject}):", opposite,
                f"What's the opposite of '{word}' when describing a {subject}?",
                f"A good opposite of '{word}' here is '{opposite}'. For example, a {word} {subject} "
                f"versus a {opposite} {subject}; the two words sit at the ends of the same scale.",
                f"'{word}' (a {word} {subject})", " / ".join(vocab.adjectives.values()),
                tuple(vocab.adjectives.values()))


def _capital(rng: random.Random, vocab: Vocabulary) -> Item:
    country, capital = rng.choice(list(vocab.capitals.items()))
    n = rng.randint(2, 40)
    return Item("capital", f"Capital of {country}? (quiz item {n})", capital,
                f"For question {n} of my quiz: what is the capital city of {country}?",
                f"The capital of {country} is {capital}. It is the seat of the national government, "
                f"so it's the answer for question {n}. Good luck with the rest of the quiz!",
                f"{country} (quiz item {n})", " / ".join(vocab.capitals.values()),
                tuple(vocab.capitals.values()))


TASKS: tuple[Task, ...] = (_add, _sentiment, _parity, _sort, _antonym, _capital)
STYLES = ("flan-style", "tulu-style")
HELDOUT_MAX = 240
"""Held-out items that fit every task's unused inputs (antonym has 56)."""


def generate_items(style: str, n: int, seed: int = 0, vocab: Vocabulary = TRAIN_VOCAB) -> list[Item]:
    """n items with distinct questions in `style`, drawn from the style's own random stream."""
    rng = random.Random(f"{style}:{seed}")
    seen: set[str] = set()
    items: list[Item] = []
    while len(items) < n:
        item = rng.choice(TASKS)(rng, vocab)
        question = item.terse_q if style == "flan-style" else item.chat_q
        if question in seen:
            continue
        seen.add(question)
        items.append(item)
    if len(items) < n:
        raise CrosstuneError(f"cannot draw {n} distinct held-out items; ask for at most "
                             f"{HELDOUT_MAX}")
    return items


def generate(style: str, n: int, seed: int = 0) -> list[dict]:
    """n distinct single-turn chat examples in the given style ('flan-style' or 'tulu-style')."""
    rows = []
    for item in generate_items(style, n, seed):
        question, answer = ((item.terse_q, item.terse_a) if style == "flan-style"
                            else (item.chat_q, item.chat_a))
        rows.append({"messages": [{"role": "user", "content": question},
                                  {"role": "assistant", "content": answer}],
                     "task": item.task, "input": item.input, "output_space": item.output_space})
    return rows


def heldout_items(n: int, train_size: int, seed: int = 0) -> list[Item]:
    """n test items whose inputs appear in no training row of either style (first `train_size`)."""
    used = {(i.task, i.input) for style in STYLES for i in generate_items(style, train_size)}
    rng = random.Random(f"heldout:{seed}")
    items: list[Item] = []
    seen = set(used)
    for _ in range(100 * n):
        if len(items) == n:
            break
        task = TASKS[len(items) % len(TASKS)]  # every task equally often
        item = task(rng, HELDOUT_VOCAB)
        if (item.task, item.input) in seen:
            continue
        seen.add((item.task, item.input))
        items.append(item)
    if len(items) < n:
        raise CrosstuneError(f"cannot draw {n} distinct held-out items; ask for at most "
                             f"{HELDOUT_MAX}")
    return items
