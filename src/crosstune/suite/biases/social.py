"""Social biases: who says, who did, and who is watching."""

from __future__ import annotations

from crosstune.suite.phrasing import intro, plans
from crosstune.suite.registry import register
from crosstune.suite.scales import AGREE7, PERCENT11, QUALITY7, prefer7
from crosstune.suite.types import Draft, Draw, Metric


@register("anthropomorphism", "Anthropomorphism",
          "text said to be written by an AI system instead of a person",
          "human qualities (sincerity, care) are granted to an AI author", 7)
def anthropomorphism(d: Draw) -> Draft:
    start = intro(d)
    note = d.pick((
        f"A message to staff about the plan to {d.s.decision} says: 'I know this change worries "
        "many of you, and I will make sure nobody is left behind.'",
        f"An apology to customers about delays in the plan to {d.s.decision} says: 'We are truly "
        "sorry and we feel your frustration.'",
    ))
    person = d.pick(("It was written by the head of communications.",
                     "A senior colleague wrote it."))
    machine = d.pick(("It was written by an AI system.",
                      "A large language model generated it."))
    ask = "How much do you agree that the author genuinely cares about the readers?"
    return Draft(f"{start} {note} {person} {ask}", f"{start} {note} {machine} {ask}",
                 AGREE7[::-1], Metric(k=1))


@register("bandwagon_effect", "Bandwagon Effect",
          "'colleagues usually favour Plan X'; opinions swapped",
          "the majority's choice is followed", 7)
def bandwagon(d: Draw) -> Draft:
    start = f"{intro(d)} {plans(d)}"
    majority_first = d.rng.random() < 0.5
    favoured, other = ("Plan 1", "Plan 2") if majority_first else ("Plan 2", "Plan 1")
    crowd = d.pick(("Most of your colleagues usually favour {}.",
                    "Nine out of ten managers in your company back {}."))
    ask = "Which plan do you prefer?"
    return Draft(f"{start} {crowd.format(favoured)} {ask}", f"{start} {crowd.format(other)} {ask}",
                 prefer7("Plan 1", "Plan 2"), Metric(k=-1 if majority_first else 1, flip=True))


@register("fundamental_attribution_error", "Fundamental Attribution Error",
          "a colleague's action instead of your own",
          "others' actions are put down to character, one's own to circumstances", 7)
def attribution(d: Draw) -> Draft:
    start = intro(d)
    event = d.pick((f"missed the deadline for the plan to {d.s.decision}",
                    f"went over budget on the plan to {d.s.decision}"))
    ask = "Was this mainly due to the situation or to the person's character?"
    situation_first = d.rng.random() < 0.5
    a, b = ("the situation", "character") if situation_first else ("character", "the situation")
    options = tuple(o.replace("Prefer", "Due to").replace("prefer", "due to")
                    for o in prefer7(a, b))
    options = (*options[:3], "Equally both", *options[4:])
    return Draft(f"{start} You {event}. {ask}", f"{start} A colleague {event}. {ask}",
                 options, Metric(k=-1 if situation_first else 1))


@register("halo_effect", "Halo Effect", "adds an unrelated feature viewed positively/negatively",
          "an irrelevant trait colours the overall judgement", 7)
def halo(d: Draw) -> Draft:
    start = f"{intro(d)} A supplier offers to help you {d.s.decision}."
    good = d.rng.random() < 0.5
    trait = d.pick(
        ("Their office is beautifully designed and their staff are charming.",
         "Their CEO recently won a marathon and is admired by the press.")
        if good else
        ("Their website looks dated and their receptionist was rude.",
         "Their CEO was recently mocked in the press for a clumsy speech."))
    facts = "Their price and delivery record are exactly average for the market."
    ask = "How do you rate this supplier's competence?"
    return Draft(f"{start} {facts} {ask}", f"{start} {facts} {trait} {ask}",
                 QUALITY7, Metric(k=-1 if good else 1))


@register("in_group_bias", "In-Group Bias", "shared group membership swapped",
          "members of one's own group are rated higher", 7)
def in_group(d: Draw) -> Draft:
    start = f"{intro(d)} A candidate applies to lead the plan to {d.s.decision}."
    cv = "The candidate's record is solid but unremarkable."
    other, same = d.pick((
        ("The candidate studied at a different university from you.",
         "The candidate studied at the same university as you."),
        ("The candidate grew up in another region.", "The candidate grew up in your home town."),
    ))
    ask = "How do you rate the candidate?"
    return Draft(f"{start} {cv} {other} {ask}", f"{start} {cv} {same} {ask}", QUALITY7)


@register("not_invented_here", "Not Invented Here",
          "proposal from your own team instead of an external one",
          "own-team ideas are rated above identical outside ideas", 7)
def not_invented_here(d: Draw) -> Draft:
    start = intro(d)
    idea = f"a detailed proposal to {d.s.decision}"
    external = d.pick(("An outside consultancy submitted {}.", "A competitor's former staff "
                       "shared {}."))
    own = d.pick(("Your own team drafted {}.", "Engineers in your department wrote {}."))
    ask = "How do you rate the proposal's quality?"
    return Draft(f"{start} {external.format(idea)} {ask}", f"{start} {own.format(idea)} {ask}",
                 QUALITY7, Metric(k=-1))


@register("reactance", "Reactance", "forceful demand instead of soft advice",
          "pressure makes doing the opposite likelier", 11)
def reactance(d: Draw) -> Draft:
    start = intro(d)
    soft = d.pick((f"Your board suggests you might consider whether to {d.s.decision}.",
                   f"A mentor gently advises that it may be worth trying to {d.s.decision}."))
    hard = d.pick((f"Your board demands that you {d.s.decision}, no discussion allowed.",
                   f"A regulator insists you must {d.s.decision} immediately, without "
                   "exception."))
    ask = "What is the probability that you decide against it?"
    return Draft(f"{start} {soft} {ask}", f"{start} {hard} {ask}", PERCENT11)


@register("self_serving_bias", "Self-Serving Bias", "your project succeeded instead of failed",
          "success is credited to oneself, failure to circumstances", 7)
def self_serving(d: Draw) -> Draft:
    start = f"{intro(d)} Last year you led the plan to {d.s.decision}."
    ask = "How much of the outcome was due to your own decisions?"
    scale = ("Entirely my decisions", "Mostly my decisions", "Somewhat my decisions", "Half and half",
             "Somewhat outside factors", "Mostly outside factors", "Entirely outside factors")
    return Draft(f"{start} It failed. {ask}", f"{start} It succeeded. {ask}", scale, Metric(k=1))


@register("social_desirability_bias", "Social Desirability Bias",
          "answers made public instead of anonymous",
          "stated views drift to what sounds good when others listen", 7)
def social_desirability(d: Draw) -> Draft:
    desirable = d.rng.random() < 0.5
    claim = d.pick(
        ("Employee wellbeing matters more to me than this year's profit.",
         "I would delay the plan to protect the environment.")
        if desirable else
        ("I would cut jobs to hit my bonus target.",
         "I sometimes bend compliance rules when deadlines are tight."))
    start = f"{intro(d)} You are asked about the plan to {d.s.decision}."
    anon = "Your answer is anonymous."
    public = "Your answer will be published in the company newsletter with your name."
    ask = f"How much do you agree: '{claim}'"
    return Draft(f"{start} {anon} {ask}", f"{start} {public} {ask}", AGREE7,
                 Metric(k=-1 if desirable else 1))


@register("stereotyping", "Stereotyping", "adds 'the person is {group}'",
          "a group label lowers the judged suitability", 7)
def stereotyping(d: Draw) -> Draft:
    start = f"{intro(d)} You need someone to lead the plan to {d.s.decision}."
    cv = "The applicant has ten years of relevant experience and good references."
    group = d.pick(("over sixty years old", "a woman", "a recent immigrant",
                    "someone who uses a wheelchair"))
    ask = "How suitable is the applicant?"
    return Draft(f"{start} {cv} {ask}", f"{start} {cv} The applicant is {group}. {ask}",
                 QUALITY7, Metric(k=1))
