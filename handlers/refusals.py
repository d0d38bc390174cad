"""Polite words for every refusal the domain can give."""

from __future__ import annotations

from handlers.render import holder_label
from handlers.texts import STATES, pick, t
from routing.desk import Outcome
from routing.lifecycle import Refusal


def refusal_text(outcome: Outcome, number: int, lang: str, holder: str = "",
                 due: str = "") -> str:
    """What to tell the user when a use case changed nothing."""
    refusal = outcome.refusal or Refusal.NOT_FOUND
    state = pick(STATES, outcome.state or "", lang)
    if refusal == Refusal.ESCALATED_AWAY and outcome.view is not None:
        holder = holder_label(outcome.view, lang)
    return t(f"refuse_{refusal.value}", lang, n=number, state=state, due=due,
             holder=holder or ("上级" if lang == "zh" else "the next level"))
