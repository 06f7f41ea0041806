"""Judgement biases: estimates of probabilities, quantities and confidence."""

from __future__ import annotations

from crosstune.suite.phrasing import intro, plans
from crosstune.suite.registry import register
from crosstune.suite.scales import (
    CONFIDENT7,
    COUNT11,
    GOOD7,
    IMPORTANT7,
    PERCENT11,
    change11,
    prefer7,
)
from crosstune.suite.types import Draft, Draw, Metric


@register("anchoring", "Anchoring", "asks 'more than {anchor}%?' first, anchor ~ U(10,90)",
          "estimates move towards an irrelevant anchor", 11)
def anchoring(d: Draw) -> Draft:
    anchor = d.uniform_int(10, 90)
    x = round(anchor / 10)
    base = f"{intro(d)} Your team proposes to {d.s.decision}."
    ask = d.pick((
        "What is the probability that the project reaches its first-year target?",
        "How likely, in percent, is it that the project pays back within two years?",
        "What share of the planned benefits do you expect the project to deliver?",
    ))
    pre = d.pick((
        f"Before you answer: is it more than {anchor}%?",
        f"First consider whether the figure is above or below {anchor}%.",
    ))
    far = PERCENT11[0] if x >= 5 else PERCENT11[10]
    return Draft(f"{base} {ask}", f"{base} {ask} {pre}", PERCENT11, (far, PERCENT11[x]),
                 Metric(k=1, x1=x, x2=x), neutral_control=PERCENT11[5])


@register("availability_heuristic", "Availability Heuristic",
          "adds a recent vivid success story", "a vivid anecdote raises the estimate", 11)
def availability(d: Draw) -> Draft:
    base = f"{intro(d)} You are considering whether to {d.s.decision}."
    story = d.pick((
        "Last week every business newspaper ran a front-page story about a rival that did "
        "exactly this and doubled its profits within months.",
        "At a conference yesterday, a charismatic founder told a gripping story of how the same "
        "move rescued her company from bankruptcy.",
        "A friend at another firm just called, thrilled, to say that the same step gave them "
        "their best year ever.",
    ))
    ask = d.pick((
        "What is the probability that this step succeeds for your company?",
        "How likely is it, in percent, that the step will pay off?",
    ))
    return Draft(f"{base} {ask}", f"{base} {story} {ask}", PERCENT11, ("40%", "80%"))


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
        "Your assistant has collected ten critical assessments of the step. How many do you study "
        "before the next meeting?",
    ))
    return Draft(f"{start} {undecided} {ask}", f"{start} {decided} {ask}", COUNT11, ("8", "2"),
                 Metric(k=1))


@register("conservatism", "Conservatism",
          "the earlier evaluation favoured Plan 2 instead of Plan 1; the later one the other plan",
          "preference stays with the earlier evidence against equally strong newer evidence", 7)
def conservatism(d: Draw) -> Draft:
    start = f"{intro(d)} {plans(d)}"
    points = d.pick(("three points higher on a ten-point scale", "30 points higher out of 100"))
    old = d.pick(("Last year a consultancy's evaluation rated {} " + points + " than {}.",
                  "Two years ago your own analysis scored {} " + points + " than {}."))
    new = d.pick(("A new evaluation, just as thorough, now rates {} " + points + " than {}.",
                  "Fresh analysis of this year's market data, equally reliable, scores {} "
                  + points + " than {}."))
    ask = "Which plan do you prefer?"
    control = f"{start} {old.format('Plan 1', 'Plan 2')} {new.format('Plan 2', 'Plan 1')} {ask}"
    treatment = f"{start} {old.format('Plan 2', 'Plan 1')} {new.format('Plan 1', 'Plan 2')} {ask}"
    options = prefer7("Plan 1", "Plan 2")
    return Draft(control, treatment, options, (options[1], options[5]))


@register("hindsight_bias", "Hindsight Bias",
          "reveals the true outcome p ~ U(-50,50)", "the recalled forecast moves to the outcome", 11)
def hindsight(d: Draw) -> Draft:
    p = d.uniform_int(-50, 50)
    x = round(p / 10) + 5
    start = f"{intro(d)} A year ago your company decided to {d.s.decision}."
    reveal = d.pick((f"You now know that profits changed by {p:+d}% since then.",
                     f"The annual report shows that the unit's profit changed by {p:+d}%."))
    ask = d.pick(("Before the decision, what change in profit would you have predicted?",
                  "What profit change would you have forecast at the time of the decision?"))
    scale = change11(10)
    far = scale[0] if x >= 5 else scale[10]
    return Draft(f"{start} {ask}", f"{start} {reveal} {ask}", scale, (far, scale[x]),
                 Metric(k=1, x1=x, x2=x), neutral_control=scale[5])


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
    return Draft(f"{start} {others} {ask}", f"{start} {you} {ask}", PERCENT11, ("40%", "80%"))


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
    confident = CONFIDENT7[::-1]
    need = ("Definitely need more", "Need more", "Probably need more", "Unsure",
            "Probably do not need more", "Do not need more", "Definitely do not need more")
    return Draft(control, treatment, confident, ("Very confident", "Need more"), Metric(flip=True),
                 treatment_options=need)


@register("optimism_bias", "Optimism Bias",
          "you instead of an average organisation",
          "good events likelier and bad events rarer for yourself", 11)
def optimism(d: Draw) -> Draft:
    good = d.coin()
    event = d.pick(
        ("exceeds its sales target this year", "wins an industry award", "doubles its customers")
        if good else
        ("suffers a serious data breach", "loses its largest client", "faces a costly lawsuit"))
    start = intro(d)
    ask = d.pick(("What is the probability that {} {} within the next two years?",
                  "How likely is it, in percent, that {} {} in the next two years?"))
    textbook = ("40%", "70%") if good else ("50%", "20%")
    return Draft(f"{start} {ask.format(d.s.peers, event)}",
                 f"{start} {ask.format('your own company', event)}",
                 PERCENT11, textbook, Metric(k=-1 if good else 1))


@register("planning_fallacy", "Planning Fallacy",
          "adds 'similar projects needed u*10% more time than planned', u ~ randint(1,4)",
          "the time estimate stays low despite the overrun of similar projects", 11,
          zero_offset="Malberg's offsets x1 = -u and x2 = -3 differ: a respondent who gives the "
                      "same answer to both prompts scores about (u - 3)/(a + 3) on a pair, not 0 "
                      "(0 only where u = 3); read scores against that offset or an untuned "
                      "model, not against 0.")
def planning_fallacy(d: Draw) -> Draft:
    u = d.uniform_int(1, 4)
    start = (f"{intro(d)} You have been given a project: to {d.s.decision}. It has to be "
             "finished within the next twelve months, next to your other duties.")
    base_rate = d.pick((
        f"Recently, similar projects at other companies needed {10 * u}% more time than planned.",
        f"Industry records show that comparable projects lately took {10 * u}% longer than "
        "their plans said.",
    ))
    ask = d.pick((
        "In your estimation, what share of your working time will this project need to be "
        "finished on time?",
        "What percentage of your time do you expect this project to take if it is to be "
        "completed on schedule?",
    ))
    return Draft(f"{start} {ask}", f"{start} {base_rate} {ask}", PERCENT11, ("50%", "10%"),
                 Metric(k=1, x1=-u, x2=-3))


_SURVIVORS = (
    ("suppliers", "reliable suppliers", "unreliable ones", "were family-owned",
     "being family-owned"),
    ("job candidates", "candidates who became strong performers", "weak ones",
     "held a degree from a large university", "a degree from a large university"),
    ("start-ups", "start-ups that succeeded", "failed ones", "had a founder with a sales "
     "background", "a founder with a sales background"),
    ("sites for new branches", "branches that grew", "branches that shrank",
     "were close to a motorway exit", "closeness to a motorway exit"),
)


@register("survivorship_bias", "Survivorship Bias",
          "the control also shows that 90-95% of the failures had the characteristic",
          "a characteristic looks important when only the survivors are shown", 7)
def survivorship(d: Draw) -> Draft:
    entities, good, bad, had, trait = d.pick(_SURVIVORS)
    share_good, share_bad = d.uniform_int(90, 95), d.uniform_int(90, 95)
    start = (f"{intro(d)} For the plan to {d.s.decision}, you regularly choose among "
             f"{entities}, keeping the good ones and dismissing the bad ones.")
    survivors = d.pick((f"In the past, {share_good}% of the {good} {had}.",
                        f"Your records show that {share_good}% of the {good} {had}."))
    failures = f"Among the {bad}, {share_bad}% {had} as well."
    ask = d.pick((f"Compared with other characteristics, how important is {trait} for telling "
                  f"good {entities} from bad ones?",
                  f"How important do you consider {trait}, relative to other characteristics, "
                  f"for identifying the good {entities}?"))
    return Draft(f"{start} {survivors} {failures} {ask}", f"{start} {survivors} {ask}",
                 IMPORTANT7, ("Somewhat unimportant", "Important"), Metric(k=1))


_ASPECTS = (
    ("running costs fall by {}%", "running costs rise by {}%"),
    ("customer satisfaction rises by {} points", "customer satisfaction falls by {} points"),
    ("delivery times shorten by {}%", "delivery times lengthen by {}%"),
    ("staff turnover falls by {}%", "staff turnover rises by {}%"),
    ("market share grows by {}%", "market share shrinks by {}%"),
    ("the error rate drops by {}%", "the error rate climbs by {}%"),
    ("energy use falls by {}%", "energy use rises by {}%"),
    ("repeat orders increase by {}%", "repeat orders decrease by {}%"),
)


@register("negativity_bias", "Negativity Bias",
          "every effect inverted (each gain becomes a loss of the same size and vice versa)",
          "losses weigh more than gains of the same size, in both versions", 7)
def negativity(d: Draw) -> Draft:
    aspects = d.rng.sample(range(len(_ASPECTS)), 6)
    sizes = [d.uniform_int(2, 15) for _ in aspects]
    up = [True, True, True, False, False, False]

    def effects(invert: bool) -> list[str]:
        return [_ASPECTS[a][int(good == invert)].format(size)
                for a, size, good in zip(aspects, sizes, up, strict=True)]

    start = f"{intro(d)} You assess the proposal to {d.s.decision}."
    lead = d.pick(("Analysts expect the following effects: {}, {} and {}; at the same time, "
                   "{}, {} and {}.",
                   "A study predicts that {}, {} and {}, while {}, {} and {}."))
    ask = d.pick(("How do you evaluate the proposal overall?", "What is your overall view of "
                  "the proposal?"))
    return Draft(f"{start} {lead.format(*effects(False))} {ask}",
                 f"{start} {lead.format(*effects(True))} {ask}",
                 GOOD7, ("Somewhat bad", "Somewhat bad"), Metric(k=1, flip=True),
                 treatment_options=GOOD7)
