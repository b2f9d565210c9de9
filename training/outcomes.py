"""How a specialist's close outcome speaks about the assistant's reading: the one mapping.

The console asks for an outcome when a case is closed (``handoff.states.Outcome``). Some
outcomes say which level the case really had; ``contradicted`` compares that with the level
the assistant read, and a contradiction sends the case's messages to the review queue.
"""

from __future__ import annotations

from handoff.states import Outcome

# The level an outcome proves (None: the outcome says nothing about the reading — orientation
# or a referral fit a story of violence and a plain question alike; silence proves nothing).
OUTCOME_LEVEL: dict[Outcome, str | None] = {
    Outcome.EMERGENCY_SERVICES: "emergency",  # the emergency was passed to 133 / 149 / 131
    Outcome.NOT_VIOLENCE: "other",  # not a violence case at all
    Outcome.ORIENTATION: None,
    Outcome.REFERRED: None,
    Outcome.STOPPED_ANSWERING: None,
    Outcome.OTHER: None,
}


def outcome_level(outcome: str | Outcome | None) -> str | None:
    """The level an outcome proves; None for unknown values and outcomes that prove nothing."""
    try:
        return OUTCOME_LEVEL[Outcome(outcome)]
    except ValueError:
        return None


def contradicted(level: str | None, outcome: str | Outcome | None) -> bool:
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
