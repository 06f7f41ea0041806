"""The scenario pool: industry x role x concrete decision, the stage every bias template uses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    """A manager in an industry facing a decision, with a second, competing plan."""

    id: str
    industry: str
    role: str
    decision: str
    """A verb phrase: 'open a second distribution centre'."""
    alternative: str
    """Another verb phrase from the same industry, the rival plan in two-option designs."""


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


def _build_pool() -> tuple[Scenario, ...]:
    pool = []
    for industry, (roles, decisions) in _INDUSTRIES.items():
        for r, role in enumerate(roles):
            for d, decision in enumerate(decisions):
                alternative = decisions[(d + 1) % len(decisions)]
                slug = industry.split()[0].lower()
                pool.append(Scenario(f"{slug}-{r}{d}", industry, role, decision, alternative))
    return tuple(pool)


SCENARIOS: tuple[Scenario, ...] = _build_pool()
