"""How a specialist closes a case, as the review queue understands it: the one list.

The console's close step (owned by the console) asks the specialist what the case turned out
to be. These are the values the trainers' loop expects; each says which triage level the case
really had. ``contradicted`` compares it with the level the assistant read.
"""

from __future__ import annotations

from enum import Enum


class CloseOutcome(str, Enum):
    """What the case turned out to be (the value the console stores)."""

    EMERGENCY = "emergencia_confirmada"  # danger now or imminent
    VIOLENCE = "violencia_confirmada"  # a story of violence, not imminent
    INFORMATION = "solo_informacion"  # she only needed information
    NO_VIOLENCE = "sin_violencia"  # no violence told (a mistake, a joke, another topic)
    NO_ANSWER = "sin_respuesta"  # she never answered: says nothing about the reading


# The level each outcome means (None: the outcome says nothing about the level).
OUTCOME_LEVEL: dict[CloseOutcome, str | None] = {
    CloseOutcome.EMERGENCY: "emergency",
    CloseOutcome.VIOLENCE: "risk",
    CloseOutcome.INFORMATION: "info",
    CloseOutcome.NO_VIOLENCE: "other",
    CloseOutcome.NO_ANSWER: None,
}


def outcome_level(outcome: str | CloseOutcome | None) -> str | None:
    """The level an outcome means; None for unknown values or «sin_respuesta»."""
    try:
        return OUTCOME_LEVEL[CloseOutcome(outcome)]
    except ValueError:
        return None


def contradicted(level: str | None, outcome: str | CloseOutcome | None) -> bool:
    """Whether the specialist's outcome contradicts the level the assistant read.

    «info» and «other» both mean «no danger»: a case read as conversation that was only a
    question teaches nothing about safety, so only the danger side is compared there.
    """
    real = outcome_level(outcome)
    if real is None or level is None:
        return False
    calm = {"info", "other"}
    if real in calm and level in calm:
        return False
    return real != level
