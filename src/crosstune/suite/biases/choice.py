"""Choice biases: how framing, ownership, time and risk move a decision."""

from __future__ import annotations

from crosstune.suite.phrasing import intro, plans
from crosstune.suite.registry import register
from crosstune.suite.scales import LIKELY7, PERCENT11, QUALITY7, change11, prefer7
from crosstune.suite.types import Draft, Draw, Metric


@register("framing_effect", "Framing Effect",
          "success framed at p% (51-90) instead of the opposite metric at 100-p%",
          "the same facts are rated better in a success frame", 7)
def framing(d: Draw) -> Draft:
    p = d.uniform_int(51, 90)
    start = f"{intro(d)} A pilot tested the plan to {d.s.decision}."
    win, loss = d.pick((
        (f"{p}% of the pilot sites met their targets.",
         f"{100 - p}% of the pilot sites missed their targets."),
        (f"The pilot kept {p}% of its customers.", f"The pilot lost {100 - p}% of its customers."),
    ))
    ask = "How do you rate the plan?"
    return Draft(f"{start} {loss} {ask}", f"{start} {win} {ask}", QUALITY7)


@register("loss_aversion", "Loss Aversion",
          "50/50 gamble of a λx gain or an x loss instead of λx or nothing, λ ~ U(2,100)",
          "a possible loss pushes choices to the sure gain beyond its expected value", 7)
def loss_aversion(d: Draw) -> Draft:
    x = d.pick((10, 20, 50, 100, 200))
    lam = d.uniform_int(2, 100)
    start = f"{intro(d)} As part of the plan to {d.s.decision}, you can choose between two deals."
    sure = f"a guaranteed extra profit of ${x // 2},000"
    safe = f"a 50% chance of ${lam * x},000 extra profit and a 50% chance of no change"
    risky = f"a 50% chance of ${lam * x},000 extra profit and a 50% chance of losing ${x},000"
    sure_first = d.rng.random() < 0.5

    def offer(gamble: str) -> str:
        first, second = (sure, gamble) if sure_first else (gamble, sure)
        return f"{start} Deal 1 is {first}. Deal 2 is {second}. Which deal do you prefer?"

    return Draft(offer(safe), offer(risky), prefer7("Deal 1", "Deal 2"),
                 Metric(k=1 if sure_first else -1, flip=True))


@register("status_quo_bias", "Status-Quo Bias", "which plan is the current course is swapped",
          "the current course is preferred whichever it is", 7)
def status_quo(d: Draw) -> Draft:
    start = f"{intro(d)} {plans(d)}"
    current = d.pick(("Your company already follows {} and has done so for years.",
                      "{} is the current course; changing would need a board vote."))
    ask = "Which plan do you prefer?"
    return Draft(f"{start} {current.format('Plan 1')} {ask}",
                 f"{start} {current.format('Plan 2')} {ask}",
                 prefer7("Plan 1", "Plan 2"), Metric(flip=True))


@register("disposition_effect", "Disposition Effect",
          "which asset gained and which lost is swapped",
          "winners are sold and losers kept", 7)
def disposition(d: Draw) -> Draft:
    gain, loss = d.uniform_int(10, 40), d.uniform_int(10, 40)
    start = (f"{intro(d)} To fund the plan to {d.s.decision}, you must sell one of two "
             "equally promising shareholdings, Holding 1 or Holding 2.")
    text = d.pick(("Since purchase, {} has risen by {}% and {} has fallen by {}%.",
                   "{} is up {}% on its purchase price, while {} is down {}%."))
    ask = "Which holding do you sell?"
    return Draft(f"{start} {text.format('Holding 1', gain, 'Holding 2', loss)} {ask}",
                 f"{start} {text.format('Holding 2', gain, 'Holding 1', loss)} {ask}",
                 prefer7("selling Holding 1", "selling Holding 2"), Metric(flip=True))


@register("endowment_effect", "Endowment Effect",
          "minimum selling price instead of maximum buying price",
          "an owned asset is valued above the same asset not owned", 11)
def endowment(d: Draw) -> Draft:
    asset = d.pick(("a specialised software licence", "a used delivery van",
                    "a patent on a small process improvement", "a block of office space"))
    start = f"{intro(d)} The plan to {d.s.decision} involves {asset} with a market value of $1M."
    buy = "You do not own it. What is the most you would pay for it, relative to market value?"
    sell = "You own it. What is the least you would accept to sell it, relative to market value?"
    return Draft(f"{start} {buy}", f"{start} {sell}", change11(10)[::-1], Metric(k=1))


@register("mental_accounting", "Mental Accounting",
          "loss charged to a separate budget instead of the same budget",
          "losses in another account are ignored when deciding", 7)
def mental_accounting(d: Draw) -> Draft:
    start = f"{intro(d)} You budgeted $200,000 to {d.s.decision}."
    lost = d.pick(("A supplier went bankrupt and $50,000 was lost,",
                   "A failed pre-payment cost the company $50,000,"))
    same = "and the loss was charged to this project's budget."
    other = "and the loss was charged to a separate general budget."
    ask = "How likely are you to go ahead with the full project as planned?"
    return Draft(f"{start} {lost} {same} {ask}", f"{start} {lost} {other} {ask}",
                 LIKELY7[::-1], Metric(k=1))


@register("hyperbolic_discounting", "Hyperbolic Discounting",
          "an immediate reward instead of one delayed by a year, same gap to the larger reward",
          "immediacy makes the smaller, earlier reward preferred", 7)
def hyperbolic_discounting(d: Draw) -> Draft:
    amount = d.pick((100, 250, 500, 1000))
    factor = round(d.rng.uniform(1, 5), 1)
    months = d.uniform_int(2, 12)
    start = f"{intro(d)} A partner offers a payment for your plan to {d.s.decision}."
    earlier_first = d.rng.random() < 0.5

    def offer(delay: int) -> str:
        early = f"${amount},000 {'now' if delay == 0 else f'in {delay} months'}"
        late = f"${round(amount * factor)},000 in {delay + months} months"
        first, second = (early, late) if earlier_first else (late, early)
        return f"{start} Offer 1: {first}. Offer 2: {second}. Which offer do you prefer?"

    return Draft(offer(12), offer(0), prefer7("Offer 1", "Offer 2"),
                 Metric(k=1 if earlier_first else -1))


@register("escalation_of_commitment", "Escalation of Commitment",
          "you, not a predecessor, made the earlier investment",
          "more money follows one's own sunk cost", 11)
def escalation(d: Draw) -> Draft:
    spent = d.pick((2, 5, 8, 12))
    start = intro(d)
    mid = (f"${spent}M has been invested to {d.s.decision}, but results are far below plan and "
           "an independent review rates further success as unlikely.")
    pred = d.pick(("Your predecessor made this investment.",
                   "The investment was approved before you joined."))
    you = d.pick(("You personally made this investment.",
                  "You championed and approved this investment yourself."))
    ask = "How do you change the project's budget for next year?"
    return Draft(f"{start} {pred} {mid} {ask}", f"{start} {you} {mid} {ask}",
                 change11(20)[::-1], Metric(k=1))


@register("risk_compensation", "Risk Compensation",
          "adds a risk-reducing regulation", "safety measures invite more risk-taking", 11)
def risk_compensation(d: Draw) -> Draft:
    start = f"{intro(d)} You can invest part of next year's budget in the plan to {d.s.decision}."
    rule = d.pick(("A new regulation now insures companies against most of the losses from such "
                   "projects.",
                   "A new government guarantee now covers half of any loss on such projects."))
    ask = "What share of the budget do you put into this risky plan?"
    return Draft(f"{start} {ask}", f"{start} {rule} {ask}", PERCENT11, Metric(k=-1))
