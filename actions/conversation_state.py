"""Reading a rasa-sdk tracker: levels seen in this session, previous intents, screening answers."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

from triage.levels import LEVELS, load_triage_map, severity

SCREENING_SLOTS = (
    "riesgo_frecuencia",
    "riesgo_arma",
    "riesgo_capaz_matar",
    "riesgo_estrangulamiento",
    "riesgo_celos",
)
_SESSION_BOUNDARIES = {"session_started", "restart"}


def events_this_session(tracker: Tracker) -> list[dict[str, Any]]:
    """Events after the latest session start or restart."""
    events = list(tracker.events)
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") in _SESSION_BOUNDARIES:
            return events[index + 1 :]
    return events


def level_of_parse(parse_data: dict[str, Any] | None) -> str:
    """The triage level of one parsed user message (also for button payloads)."""
    return load_triage_map().reading_of(parse_data).level


def conversation_level(tracker: Tracker) -> str:
    """The most severe level of her messages in this session (the handoff's level).

    Read from each user event's triage reading, so it needs no slot and no custom action.
    """
    levels = [
        level_of_parse(event.get("parse_data"))
        for event in events_this_session(tracker)
        if event.get("event") == "user"
    ]
    levels = [level for level in levels if level in LEVELS]
    return min(levels, key=severity) if levels else "other"


def most_severe_intent(tracker: Tracker, level: str) -> str | None:
    """The latest intent of this session whose triage level is ``level``."""
    for event in reversed(events_this_session(tracker)):
        if event.get("event") == "user" and level_of_parse(event.get("parse_data")) == level:
            return ((event.get("parse_data") or {}).get("intent") or {}).get("name")
    return None


def previous_user_intent(tracker: Tracker) -> str | None:
    """Intent of the user message before the latest one."""
    seen_latest = False
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if seen_latest:
            return ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        seen_latest = True
    return None


def screening_answers(tracker: Tracker) -> dict[str, str | None]:
    return {slot: tracker.get_slot(slot) for slot in SCREENING_SLOTS}


def screening_result(answers: dict[str, str | None]) -> str:
    """DA-5 (strangulation version): 3+ yes, or yes to the weapon or the 'capable of killing'
    item, is high risk. Otherwise 'incompleta' if any item was skipped, else 'no_alto'."""
    yes = {item for item, answer in answers.items() if answer == "si"}
    if len(yes) >= 3 or {"riesgo_arma", "riesgo_capaz_matar"} & yes:
        return "alto"
    if any(answer not in ("si", "no") for answer in answers.values()):
        return "incompleta"
    return "no_alto"


__all__ = [
    "SCREENING_SLOTS",
    "conversation_level",
    "events_this_session",
    "level_of_parse",
    "most_severe_intent",
    "previous_user_intent",
    "screening_answers",
    "screening_result",
    "LEVELS",
]
