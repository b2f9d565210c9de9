"""Queue priorities. Lower number = more urgent (stored as the number)."""

from __future__ import annotations

from enum import IntEnum


class Priority(IntEnum):
    EMERGENCY = 1  # danger now
    HIGH_RISK = 2  # a story of violence with a high-risk screening
    RISK = 3  # a story of violence
    PERSON = 4  # asks for a person


EMERGENCY = Priority.EMERGENCY
HIGH_RISK = Priority.HIGH_RISK
RISK = Priority.RISK
PERSON = Priority.PERSON


def priority_for(level: str, screening_result: str | None) -> Priority:
    """Priority for a triage level and an optional risk-screening result ("alto", ...)."""
    level = (level or "").strip().lower()
    if level == "emergency":
        return Priority.EMERGENCY
    if level == "risk":
        if (screening_result or "").strip().lower() == "alto":
            return Priority.HIGH_RISK
        return Priority.RISK
    return Priority.PERSON


def parse_priority(value: int | str | None) -> Priority:
    """A stored priority (unknown numbers count as the least urgent)."""
    try:
        return Priority(int(value or 0))
    except ValueError:
        return Priority.PERSON
