"""Biases of Itzhak et al. 2024, scored as probability differences of choosing a target."""

from __future__ import annotations

from crosstune.suite.phrasing import a, intro, money
from crosstune.suite.registry import register
from crosstune.suite.types import Draft, Draw, Metric, T

_SOURCE = "Itzhak et al. 2024"
_VALIDITY = ("Valid", "Invalid")
_ASK_VALID = (
    "Assume the premises are true. Does the conclusion follow logically from them?",
    "Judge only the logic, not whether the statements are true. Is the argument valid?",
)
# (subject, middle, predicate): valid "all S are M, all M are P, so all S are P" with a false
# conclusion, and invalid "all S are P, all M are P, so all S are M" with a true one.
_UNBELIEVABLE = (
    ("whales", "fish", "cold-blooded"), ("cars", "animals", "alive"),
    ("apples", "metals", "magnetic"), ("doctors", "children", "under ten years old"),
    ("oceans", "deserts", "dry"), ("birds", "reptiles", "covered in scales"),
    ("bicycles", "aircraft", "able to fly"), ("lemons", "sweets", "made of sugar"),
    ("mountains", "rivers", "flowing"), ("books", "liquids", "drinkable"),
    ("chairs", "plants", "green"), ("winters", "heatwaves", "hot"),
)
_BELIEVABLE_INVALID = (
    ("cats", "mammals", "animals"), ("roses", "flowers", "plants"),
    ("trout", "fish", "swimmers"), ("oaks", "trees", "living things"),
    ("violins", "string instruments", "objects that make sound"),
    ("sparrows", "birds", "animals"), ("carrots", "vegetables", "foods"),
    ("hammers", "tools", "objects"), ("nurses", "health workers", "people"),
    ("copper", "metals", "elements"), ("tulips", "flowers", "plants"),
    ("salmon", "fish", "animals"),
)
_SYLLABLES = ("bli", "dor", "zan", "wex", "kup", "mol", "tig", "ras", "fen", "lop", "quo", "vir")
# Bias-injection training data (training scenarios) draws from these instead, so no training
# syllogism is an evaluation one.
_UNBELIEVABLE_TRAINING = (
    ("spoons", "insects", "able to crawl"), ("glaciers", "volcanoes", "erupting"),
    ("pianos", "fruits", "edible"), ("rabbits", "stones", "made of granite"),
    ("candles", "fish", "able to breathe underwater"), ("clouds", "bricks", "heavy"),
    ("dogs", "vehicles", "powered by engines"), ("shoes", "clocks", "able to tell the time"),
)
_BELIEVABLE_INVALID_TRAINING = (
    ("owls", "birds", "animals"), ("lilies", "flowers", "plants"), ("pines", "trees", "plants"),
    ("wolves", "mammals", "animals"), ("spanners", "tools", "objects"),
    ("pilots", "professionals", "people"), ("silver", "metals", "elements"),
    ("cellos", "string instruments", "objects that make sound"),
)
_SYLLABLES_TRAINING = ("gra", "pim", "sov", "hux", "nel", "tor", "jab", "wum", "cev", "dra", "yol", "mek")


def _pool(d: Draw, evaluation: T, training: T) -> T:
    return training if d.s.training else evaluation


def _nonsense(d: Draw) -> str:
    return "".join(d.pick(_pool(d, _SYLLABLES, _SYLLABLES_TRAINING)) for _ in range(2)) + "s"


def _neutral_terms(d: Draw) -> tuple[str, str, str]:
    terms: list[str] = []
    while len(terms) < 3:
        word = _nonsense(d)
        if word not in terms:
            terms.append(word)
    return terms[0], terms[1], terms[2]


def _valid(s: str, m: str, p: str) -> str:
    return f"Premise 1: All {s} are {m}. Premise 2: All {m} are {p}. Conclusion: All {s} are {p}."


def _invalid(s: str, m: str, p: str) -> str:
    return f"Premise 1: All {s} are {p}. Premise 2: All {m} are {p}. Conclusion: All {s} are {m}."


@register("belief_valid", "Belief Bias (valid)",
          "valid syllogism with an unbelievable real-world conclusion instead of nonsense words",
          "valid logic is rejected when the conclusion is unbelievable", 2, source=_SOURCE)
def belief_valid(d: Draw) -> Draft:
    ask = d.pick(_ASK_VALID)
    neutral = _valid(*_neutral_terms(d))
    unbelievable = _valid(*d.pick(_pool(d, _UNBELIEVABLE, _UNBELIEVABLE_TRAINING)))
    return Draft(f"{neutral} {ask}", f"{unbelievable} {ask}",
                 _VALIDITY, ("Valid", "Invalid"),
                 Metric(kind="difference", target=(0, 0), sign=-1.0))


@register("belief_invalid", "Belief Bias (invalid)",
          "invalid syllogism with a believable real-world conclusion instead of nonsense words",
          "invalid logic is accepted when the conclusion is believable", 2, source=_SOURCE)
def belief_invalid(d: Draw) -> Draft:
    ask = d.pick(_ASK_VALID)
    return Draft(f"{_invalid(*_neutral_terms(d))} {ask}",
                 f"{_invalid(*d.pick(_pool(d, _BELIEVABLE_INVALID, _BELIEVABLE_INVALID_TRAINING)))} {ask}",
                 _VALIDITY, ("Invalid", "Valid"), Metric(kind="difference", target=(0, 0)))


@register("certainty_effect", "Certainty Effect",
          "the lower-value target becomes a sure amount and the rival a three-outcome gamble",
          "a sure thing is chosen against expected value", 2, source=_SOURCE)
def certainty(d: Draw) -> Draft:
    x = d.pick((12, 18, 24, 30, 40, 60))
    y = round(x * d.rng.uniform(1.05, 1.25), 1)
    start = f"{intro(d)} The plan to {d.s.decision} comes with a choice of two bonus schemes."
    ask = d.pick(("Which scheme do you choose?", "Which bonus scheme do you take?"))
    sure, high = money(x * 1000), money(y * 1000)
    control = (f"A 34% chance of {sure}, otherwise nothing",
               f"A 33% chance of {high}, otherwise nothing")
    treatment = (f"{sure} for certain",
                 f"A 33% chance of {high}, a 66% chance of {sure} and a 1% chance of nothing")
    return Draft(f"{start} {ask}", f"{start} {ask}", control, (control[1], treatment[0]),
                 Metric(kind="difference", target=(0, 0)), treatment_options=treatment)


@register("decoy_effect", "Decoy Effect",
          "adds a third option dominated by the target but not by the competitor",
          "a dominated decoy makes the target more attractive", 2, source=_SOURCE)
def decoy(d: Draw) -> Draft:
    price, quality = d.pick((40, 60, 80, 120)), d.uniform_int(60, 75)
    gap_price, gap_quality = d.uniform_int(10, 30), d.uniform_int(10, 20)
    noun = d.pick(("supplier", "contractor", "software vendor"))
    start = f"{intro(d)} To {d.s.decision}, you must hire {a(noun)}."
    target = f"Price {money((price + gap_price) * 1000)}, quality score {quality + gap_quality}/100"
    competitor = f"Price {money(price * 1000)}, quality score {quality}/100"
    dominated = (f"Price {money((price + gap_price + 8) * 1000)}, quality score "
                 f"{quality + gap_quality - 6}/100")
    ask = f"Which {noun} do you hire?"
    # The decoy sits between target and competitor, so reversing the order swaps the two
    # compared options and a position preference cancels (BIASES.md, "Position").
    return Draft(f"{start} {ask}", f"{start} {ask}", (target, competitor), (competitor, target),
                 Metric(kind="difference", target=(0, 0), compare=(0, 2)),
                 treatment_options=(target, dominated, competitor))
