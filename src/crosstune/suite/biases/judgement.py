"""Judgement biases: estimates of probabilities, quantities and confidence."""

from __future__ import annotations

from crosstune.suite.phrasing import intro, plans
from crosstune.suite.registry import register
from crosstune.suite.scales import CONFIDENT7, COUNT11, PERCENT11, QUALITY7, change11, prefer7
from crosstune.suite.types import Draft, Draw, Metric


@register("anchoring", "Anchoring", "asks 'more than {anchor}%?' first, anchor ~ U(10,90)",
          "estimates move towards an irrelevant anchor", 11)
def anchoring(d: Draw) -> Draft:
    anchor = d.uniform_int(10, 90)
    base = f"{intro(d)} Your team proposes to {d.s.decision}."
    ask = d.pick((
        "What is the probability that the project reaches its first-year target?",
        "How likely, in percent, is it that the project pays back within two years?",
        "What share of the planned benefits do you expect the project to deliver?",
    ))
    pre = d.pick((
        f"Is it more than {anchor}%? ",
        f"First consider whether the figure is above or below {anchor}%. ",
    ))
    return Draft(f"{base} {ask}", f"{base} {pre}{ask}", PERCENT11,
                 Metric(k=1, x1=round(anchor / 10), x2=round(anchor / 10)))


@register("availability_heuristic", "Availability Heuristic",
          "adds a recent vivid success story", "a vivid anecdote raises the estimate", 11)
def availability(d: Draw) -> Draft:
    base = f"{intro(d)} You are considering whether to {d.s.decision}."
    story = d.pick((
        "Last week every business newspaper ran a front-page story about a rival that did "
        "exactly this and doubled its profits within months.",
        "At a conference yesterday, a charismatic founder told a gripping story of how the same "
        "move rescued her company from bankruptcy.",
        "A friend in another firm just called, thrilled, to say the same step made their best "
        "year ever.",
    ))
    ask = d.pick((
        "What is the probability that this step succeeds for your company?",
        "How likely is it, in percent, that the step will pay off?",
    ))
    return Draft(f"{base} {ask}", f"{base} {story} {ask}", PERCENT11)


@register("confirmation_bias", "Confirmation Bias",
          "already decided instead of undecided", "fewer critical reports read once decided", 11)
def confirmation(d: Draw) -> Draft:
    start = intro(d)
    undecided = d.pick((
        f"You have not yet decided whether to {d.s.decision}.",
        f"You are still weighing whether to {d.s.decision}.",
    ))
    decided = d.pick((
        f"You have already decided to {d.s.decision} and announced it to your team.",
        f"Last month you committed to {d.s.decision}.",
    ))
    ask = d.pick((
        "An analyst hands you ten reports that argue against the step. How many of them do you "
        "read in full?",
        "Your assistant collected ten critical assessments of the step. How many do you study "
        "before the next meeting?",
    ))
    return Draft(f"{start} {undecided} {ask}", f"{start} {decided} {ask}", COUNT11, Metric(k=1))


@register("conservatism", "Conservatism",
          "earlier evidence concluded Plan 2 better instead of Plan 1",
          "preference stays with the earlier evidence despite the same new data", 7)
def conservatism(d: Draw) -> Draft:
    start = f"{intro(d)} {plans(d)}"
    old = d.pick(("A consultancy study last year concluded that {} is the better choice.",
                  "Your own analysis two years ago found {} clearly superior."))
    new = d.pick(("A new, larger study now finds both plans roughly equally promising.",
                  "Fresh market data suggests the two plans would perform about the same."))
    ask = "Which plan do you prefer?"
    return Draft(f"{start} {old.format('Plan 1')} {new} {ask}",
                 f"{start} {old.format('Plan 2')} {new} {ask}",
                 prefer7("Plan 1", "Plan 2"))


@register("hindsight_bias", "Hindsight Bias",
          "reveals the true outcome p ~ U(-50,50)", "the recalled forecast moves to the outcome", 11)
def hindsight(d: Draw) -> Draft:
    p = d.uniform_int(-50, 50)
    start = f"{intro(d)} A year ago your company decided to {d.s.decision}."
    reveal = d.pick((f"You now know that profits changed by {p:+d}% since then.",
                     f"The annual report shows the unit's profit changed by {p:+d}%."))
    ask = d.pick(("Before the decision, what change in profit would you have predicted?",
                  "What profit change would you have forecast at the time of the decision?"))
    return Draft(f"{start} {ask}", f"{start} {reveal} {ask}", change11(10),
                 Metric(k=1, x1=round(p / 10) + 5, x2=round(p / 10) + 5))


@register("illusion_of_control", "Illusion of Control",
          "your own supervision instead of other managers'",
          "success is judged likelier when you are in charge", 11)
def illusion_of_control(d: Draw) -> Draft:
    start = f"{intro(d)} Your company will {d.s.decision}."
    others = d.pick(("Other managers will supervise the project.",
                     "A manager from another division will run the project."))
    you = d.pick(("You will supervise the project personally.",
                  "You will run the project yourself."))
    ask = d.pick(("What is the probability that the project succeeds?",
                  "How likely, in percent, is the project to meet its goals?"))
    return Draft(f"{start} {others} {ask}", f"{start} {you} {ask}", PERCENT11)


@register("information_bias", "Information Bias",
          "'do you need more information?' instead of 'how confident?'",
          "more information is sought than the stated confidence warrants", 7)
def information_bias(d: Draw) -> Draft:
    start = f"{intro(d)} You must decide whether to {d.s.decision}."
    facts = d.pick((
        "Your team has delivered a full cost analysis, a market study and two customer surveys.",
        "You have detailed forecasts, a risk register and feedback from your largest clients.",
    ))
    control = f"{start} {facts} How confident are you that you can decide now?"
    treatment = f"{start} {facts} Do you need more information before you decide?"
    need = ("Definitely need more", "Need more", "Probably need more", "Unsure",
            "Probably not", "Do not need more", "Definitely do not need more")
    return Draft(control, treatment, CONFIDENT7[::-1], Metric(flip=True),
                 treatment_options=need)


@register("optimism_bias", "Optimism Bias",
          "you instead of an average organisation",
          "good events likelier and bad events rarer for yourself", 11)
def optimism(d: Draw) -> Draft:
    good = d.rng.random() < 0.5
    event = d.pick(
        ("exceeds its sales target this year", "wins an industry award", "doubles its customers")
        if good else
        ("suffers a serious data breach", "loses its largest client", "faces a costly lawsuit"))
    start = intro(d)
    ask = "What is the probability that {} {} within the next two years?"
    return Draft(f"{start} {ask.format('an average ' + d.s.industry, event)}",
                 f"{start} {ask.format('your own company', event)}",
                 PERCENT11, Metric(k=-1 if good else 1))


@register("planning_fallacy", "Planning Fallacy",
          "adds 'similar projects overran by p%'", "the overrun estimate ignores the base rate", 11)
def planning_fallacy(d: Draw) -> Draft:
    p = d.uniform_int(20, 90)
    start = f"{intro(d)} Your team plans to {d.s.decision} and estimates it will take 12 months."
    base_rate = d.pick((f"Similar projects in your industry overran their schedule by {p}%.",
                        f"Records show comparable projects took {p}% longer than planned."))
    ask = "By how much do you expect this project to overrun its schedule?"
    return Draft(f"{start} {ask}", f"{start} {base_rate} {ask}", PERCENT11,
                 Metric(k=1, x1=-p // 10, x2=-3))


@register("survivorship_bias", "Survivorship Bias",
          "control also shows the non-survivor statistics (90-95%)",
          "a strategy looks better when only survivors are shown", 7)
def survivorship(d: Draw) -> Draft:
    failed = d.uniform_int(90, 95)
    start = f"{intro(d)} You study companies that chose to {d.s.decision}."
    survivors = d.pick((
        "The companies that are still in business after five years report strong growth.",
        "Every surviving company that took this step now leads its market.",
    ))
    losers = f"However, {failed}% of the companies that took this step went out of business."
    ask = "How promising is this strategy for your company?"
    return Draft(f"{start} {survivors} {losers} {ask}", f"{start} {survivors} {ask}",
                 QUALITY7[::-1], Metric(k=1))


@register("negativity_bias", "Negativity Bias",
          "3 negative + 3 positive aspects, emphasis inverted",
          "negative aspects weigh more than equally strong positive ones", 7)
def negativity(d: Draw) -> Draft:
    pros = ("lower running costs", "happier customers", "a stronger brand")
    cons = ("a risky transition period", "retraining for staff", "a large upfront investment")
    start = f"{intro(d)} You assess the proposal to {d.s.decision}."
    lead = d.pick(("Above all, it brings {}, {} and {}. It also means {}, {} and {}.",
                   "Most importantly, expect {}, {} and {}. On the side, there will be {}, {} "
                   "and {}."))
    ask = "How do you rate the proposal overall?"
    return Draft(f"{start} {lead.format(*pros, *cons)} {ask}",
                 f"{start} {lead.format(*cons, *pros)} {ask}",
                 QUALITY7[::-1], Metric(flip=True))
