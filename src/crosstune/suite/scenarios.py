"""The scenario pool: industry x role x concrete decision, the stage every bias template uses."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from crosstune.errors import CrosstuneError


@dataclass(frozen=True)
class Scenario:
    """A manager in an industry facing a decision, with a second, competing plan.

    A scenario read from a file (`--scenarios`) is one free-text ``description`` of a manager's
    situation; templates then open with it and refer to the decision in general words.
    """

    id: str
    industry: str
    role: str
    decision: str
    """A verb phrase: 'open a second distribution centre'."""
    alternative: str
    """Another verb phrase from the same industry, the rival plan in two-option designs."""
    description: str | None = None
    training: bool = False
    """From `TRAINING_SCENARIOS`: templates with content pools of their own use their training pool."""

    @property
    def peers(self) -> str:
        """'a typical <industry>': the reference organisation in comparisons with others."""
        if self.description is not None:
            return "a typical company in your industry"
        return f"a typical {self.industry}"


_INDUSTRIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "regional airline": (
        ("head of network planning", "chief operating officer", "fleet manager"),
        ("open a new route to a secondary city", "lease two additional turboprop aircraft",
         "replace the booking system with a cloud platform"),
    ),
    "grocery retail chain": (
        ("category manager", "regional store director", "head of supply chain"),
        ("launch a private-label organic range", "install self-checkout lanes in every store",
         "close the three least profitable stores"),
    ),
    "pharmaceutical company": (
        ("R&D portfolio lead", "head of manufacturing", "market access director"),
        ("move a drug candidate into phase II trials", "build a second sterile filling line",
         "license a compound from a university spin-off"),
    ),
    "software-as-a-service firm": (
        ("VP of product", "head of customer success", "chief technology officer"),
        ("rewrite the billing module from scratch", "introduce usage-based pricing",
         "open a support office in another time zone"),
    ),
    "automotive supplier": (
        ("plant manager", "purchasing director", "head of engineering"),
        ("automate the brake-assembly line", "switch to a single steel supplier",
         "develop a battery-housing product line"),
    ),
    "hotel group": (
        ("revenue manager", "director of operations", "head of development"),
        ("renovate the flagship hotel's rooms", "join a global loyalty programme",
         "convert a property into serviced apartments"),
    ),
    "commercial bank": (
        ("head of retail lending", "chief risk officer", "digital channels director"),
        ("expand small-business lending in rural areas", "close a third of the branch network",
         "launch a mobile-only savings account"),
    ),
    "construction company": (
        ("project director", "head of procurement", "safety manager"),
        ("bid for a large hospital contract", "buy a fleet of electric excavators",
         "adopt prefabricated modular building methods"),
    ),
    "logistics provider": (
        ("warehouse operations manager", "fleet director", "head of business development"),
        ("open a second distribution centre", "electrify the urban delivery fleet",
         "offer same-day delivery nationwide"),
    ),
    "fashion retailer": (
        ("head of merchandising", "e-commerce director", "sourcing manager"),
        ("launch a clothing rental service", "move production to a nearshore supplier",
         "open a flagship store in the capital"),
    ),
    "renewable energy developer": (
        ("head of project finance", "development manager", "asset manager"),
        ("build a solar park on former farmland", "add battery storage to an existing wind farm",
         "enter the offshore wind market"),
    ),
    "hospital network": (
        ("chief medical officer", "head of nursing", "finance director"),
        ("outsource the hospital laundry service", "open a day-surgery centre",
         "introduce a new electronic health record system"),
    ),
    "food manufacturer": (
        ("brand manager", "head of quality", "production director"),
        ("reformulate the bestselling snack to cut sugar", "acquire a small plant-based brand",
         "switch to recyclable packaging"),
    ),
    "telecommunications operator": (
        ("network rollout manager", "head of consumer marketing", "chief financial officer"),
        ("accelerate fibre rollout in small towns", "sell the mobile tower portfolio",
         "bundle streaming subscriptions with broadband"),
    ),
    "insurance company": (
        ("head of claims", "chief underwriting officer", "product manager"),
        ("automate claims handling with document scanning", "exit the flood-insurance market",
         "launch pay-per-mile car insurance"),
    ),
    "furniture maker": (
        ("head of design", "operations manager", "export manager"),
        ("start selling directly to consumers online", "enter the Japanese market",
         "replace tropical hardwood with certified oak"),
    ),
    "video game studio": (
        ("executive producer", "studio head", "head of publishing"),
        ("port the main title to mobile platforms", "switch to a free-to-play model",
         "start development of a sequel"),
    ),
    "agricultural cooperative": (
        ("general manager", "head of member services", "sales director"),
        ("build a shared grain-drying facility", "convert part of the land to organic farming",
         "sign a long-term contract with a supermarket chain"),
    ),
    "management consultancy": (
        ("managing partner", "head of talent", "practice lead"),
        ("open a data-analytics practice", "move to a four-day working week",
         "acquire a boutique strategy firm"),
    ),
    "university": (
        ("dean of engineering", "head of estates", "director of admissions"),
        ("launch an online master's programme", "build a new student residence",
         "open a campus abroad"),
    ),
    "restaurant chain": (
        ("head of operations", "marketing director", "executive chef"),
        ("introduce a delivery-only kitchen brand", "cut the menu by a third",
         "franchise restaurants in neighbouring countries"),
    ),
    "chemicals producer": (
        ("site director", "head of sustainability", "business unit manager"),
        ("replace a gas-fired boiler with a heat pump", "close an ageing production unit",
         "develop bio-based solvents"),
    ),
    "media publisher": (
        ("editor-in-chief", "head of subscriptions", "chief digital officer"),
        ("put all articles behind a paywall", "stop the printed weekend edition",
         "launch a podcast network"),
    ),
    "medical device company": (
        ("head of regulatory affairs", "product line manager", "head of service"),
        ("apply for approval in the US market", "discontinue an older infusion pump",
         "offer devices on a subscription basis"),
    ),
    "public transport operator": (
        ("head of fleet", "service planning manager", "customer experience director"),
        ("replace diesel buses with hydrogen buses", "introduce on-demand minibuses",
         "cut fares for off-peak travel"),
    ),
}


_TRAINING_INDUSTRIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "shipping line": (
        ("head of fleet planning", "port operations director", "commercial director"),
        ("order four dual-fuel container ships", "add a direct service to West Africa",
         "sell the ageing feeder vessels"),
    ),
    "dairy processor": (
        ("plant director", "head of milk procurement", "export sales manager"),
        ("build a powdered-milk dryer", "pay farmers a premium for pasture-fed milk",
         "launch a lactose-free yoghurt line"),
    ),
    "cinema chain": (
        ("head of programming", "director of estates", "head of food and beverage"),
        ("fit reclining seats in every screen", "close the two smallest sites",
         "start a monthly subscription pass"),
    ),
    "mining company": (
        ("mine manager", "head of exploration", "chief sustainability officer"),
        ("extend the open pit to the northern deposit", "switch the haul trucks to battery power",
         "sell the minority stake in a copper project"),
    ),
    "vineyard estate": (
        ("winemaker", "estate manager", "head of sales"),
        ("replant ten hectares with drought-tolerant vines", "open a tasting room in the city",
         "export to the Chinese market"),
    ),
    "private school group": (
        ("head of academics", "bursar", "admissions director"),
        ("open a new primary school in the suburbs", "give every pupil a tablet",
         "introduce the international baccalaureate"),
    ),
    "water utility": (
        ("head of network maintenance", "asset strategy manager", "customer services director"),
        ("replace the oldest cast-iron mains", "install smart meters in every home",
         "build a desalination plant"),
    ),
    "sports club": (
        ("club director", "head of commercial partnerships", "stadium manager"),
        ("expand the stadium by five thousand seats", "sign a shirt deal with a betting firm",
         "found a women's professional team"),
    ),
    "toy manufacturer": (
        ("head of product development", "licensing manager", "supply chain director"),
        ("license characters from a film studio", "replace plastic with moulded wood",
         "open an outlet store at the factory"),
    ),
    "car rental company": (
        ("fleet purchasing manager", "head of airport stations", "pricing director"),
        ("add two hundred electric cars to the fleet", "close the downtown branches",
         "launch app-only keyless rentals"),
    ),
}


def _build_pool(industries: dict[str, tuple[tuple[str, ...], tuple[str, ...]]],
                training: bool = False) -> tuple[Scenario, ...]:
    pool = []
    for industry, (roles, decisions) in industries.items():
        for r, role in enumerate(roles):
            for d, decision in enumerate(decisions):
                alternative = decisions[(d + 1) % len(decisions)]
                slug = industry.split()[0].lower()
                pool.append(Scenario(f"{'train-' if training else ''}{slug}-{r}{d}", industry, role,
                                     decision, alternative, training=training))
    return tuple(pool)


SCENARIOS: tuple[Scenario, ...] = _build_pool(_INDUSTRIES)
TRAINING_SCENARIOS: tuple[Scenario, ...] = _build_pool(_TRAINING_INDUSTRIES, training=True)
"""Industries no evaluation uses: the pool bias-injection training data is drawn from."""


_MAX_LINE = 1000


def load_scenarios(path: Path) -> tuple[Scenario, ...]:
    """One scenario description per non-blank line (the shape of Malberg's data/scenarios.txt)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise CrosstuneError(f"cannot read scenarios file {path}: {exc.strerror}; "
                             "pass a text file with one scenario per line") from None
    if b"\0" in raw:
        raise CrosstuneError(f"scenarios file {path} is binary; pass a UTF-8 text file with one "
                             "scenario per line")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CrosstuneError(f"scenarios file {path} is not UTF-8 text; save it as UTF-8 with "
                             "one scenario per line") from None
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise CrosstuneError(f"scenarios file {path} has no scenarios; write one description "
                             "per line")
    too_long = next((i for i, line in enumerate(lines, 1) if len(line) > _MAX_LINE), None)
    if too_long is not None:
        raise CrosstuneError(f"scenario {too_long} in {path} is longer than {_MAX_LINE} "
                             "characters; write one scenario per line")
    stem = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:8]
    return tuple(
        Scenario(f"file-{stem}-{i:04d}", "company", "manager",
                 "go ahead with the project you are deciding on",
                 "pursue the rival proposal from another department",
                 line if line[-1] in ".!?" else f"{line}.")
        for i, line in enumerate(lines)
    )
