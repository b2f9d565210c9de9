"""May we write to her now, and how? One rule set for replies, goodbyes and follow-ups.

What she said decides, never a default:
- her answer to «¿Es seguro que te escriba a este número?» (``contacto_seguro``) or, in an
  emergency, to «¿Puedes seguir escribiendo sin peligro?» (``puede_escribir``): the console
  shows her real answer (the button title or her words);
- «no me escriban» (intent ``no_escribir``, also kept in the queue by the action): nobody
  writes to her first — no goodbye, no follow-up — until she says it is safe again;
- «salir» during the case: no pre-checked goodbye;
- WhatsApp's 24-hour window: after it only a template may be sent, and only as a follow-up
  where she said it is safe to write to this number.

Each decision carries a reason code; ``console/textos.yml`` (section ``contacto``) says it in
Spanish next to the reply box.
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from console.transcript import epoch, intent_of, shown_text

WINDOW_SECONDS = 24 * 3600
NO_CONTACT_INTENT = "no_escribir"
QUICK_EXIT_INTENT = "salir"
SAFE_SLOTS = {"contacto_seguro": "contacto", "puede_escribir": "emergencia"}
FOLLOW_UP_SOURCE = "console_follow_up"

NOT_SAFE_MARKERS = ("no es seguro", "no me escrib", "no escrib", "nunca", "no puedo", "peligro",
                    "no_seguro", "not safe", "unsafe", "inseguro")


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in text if not unicodedata.combining(c)).strip()


def unsafe_to_write(answer: str | None) -> bool:
    """Whether an answer about safe contact says writing to her is not safe (conservative)."""
    if not answer:
        return False
    plain = _plain(answer)
    words = plain.replace(",", " ").replace(".", " ").split()
    return (bool(words) and words[0] in ("no", "nunca", "false")) or any(
        marker in plain for marker in NOT_SAFE_MARKERS)


@dataclass(frozen=True)
class SafeAnswer:
    """Her answer about writing to her: her words, and what they mean."""

    text: str | None = None
    safe: bool | None = None  # None: she did not answer
    question: str | None = None  # "contacto" (this number) or "emergencia" (right now)

    @classmethod
    def from_ticket(cls, safe_contact: str | None) -> SafeAnswer:
        if not safe_contact:
            return cls()
        return cls(safe_contact, not unsafe_to_write(safe_contact), "contacto")


def safe_answer(events: list[dict[str, Any]]) -> SafeAnswer:
    """Her latest answer to either safety question in these events."""
    answer = SafeAnswer()
    last_user: dict[str, Any] | None = None
    offered: list[dict[str, Any]] = []
    for event in events:
        kind = event.get("event")
        if kind == "bot":
            offered = (event.get("data") or {}).get("buttons") or offered
        elif kind == "user":
            last_user = event
        elif kind == "slot" and event.get("name") in SAFE_SLOTS and event.get("value") is not None:
            value = event["value"]
            words = shown_text(last_user, offered)[0] if last_user else None
            if isinstance(value, bool):
                safe = value
            else:
                safe = not unsafe_to_write(str(value))
            answer = SafeAnswer(words or str(value), safe, SAFE_SLOTS[event["name"]])
    return answer


def no_contact_at(events: list[dict[str, Any]], stored: float | None = None) -> float | None:
    """When she last said «no me escriban» (in these events, or ``stored`` by the action in
    the queue), unless a safe answer to the contact question came after it."""
    said = stored
    for event in events:
        at = float(event.get("timestamp") or 0)
        if event.get("event") == "user" and intent_of(event) == NO_CONTACT_INTENT:
            said = max(said or 0.0, at or time.time())
        elif (said is not None and at > said and event.get("event") == "slot"
              and event.get("name") == "contacto_seguro" and event.get("value")
              and not unsafe_to_write(str(event["value"]))):
            said = None
    return said


def left_during_case(events: list[dict[str, Any]], opened_at: datetime | None) -> bool:
    """She wrote «salir» after the case was opened."""
    since = epoch(opened_at) if opened_at else 0.0
    return any(event.get("event") == "user" and intent_of(event) == QUICK_EXIT_INTENT
               and float(event.get("timestamp") or 0) >= since for event in events)


def follow_up_sent(events: list[dict[str, Any]], opened_at: datetime | None) -> bool:
    since = epoch(opened_at) if opened_at else 0.0
    return any(event.get("event") == "bot"
               and (event.get("metadata") or {}).get("source") == FOLLOW_UP_SOURCE
               and float(event.get("timestamp") or 0) >= since for event in events)


def wrote_after(events: list[dict[str, Any]], moment: float) -> bool:
    return any(event.get("event") == "user" and float(event.get("timestamp") or 0) > moment
               for event in events)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # a key of the «contacto» section of console/textos.yml
    needs_confirmation: bool = False


@dataclass(frozen=True)
class ContactFacts:
    """Everything the rules need, read from the tracker and the queue."""

    answer: SafeAnswer
    window_open: bool | None  # None: unknown (no message from her, or Rasa unreachable)
    no_contact: bool  # her «no me escriban» holds
    wrote_since_no_contact: bool
    left: bool
    follow_up_done: bool
    template_configured: bool
    tracker_read: bool = True


@dataclass(frozen=True)
class ContactState:
    facts: ContactFacts
    reply: Decision
    follow_up: Decision
    goodbye_default: bool


def reply_decision(f: ContactFacts) -> Decision:
    if f.window_open is False:
        return Decision(False, "template" if f.template_configured else "no_template")
    if f.no_contact and not f.wrote_since_no_contact:
        return Decision(False, "no_contact")
    if f.answer.safe is False:
        return Decision(True, "unsafe", needs_confirmation=True)
    return Decision(True, "free")


def follow_up_decision(f: ContactFacts) -> Decision:
    checks = (
        (not f.tracker_read, "unknown"),
        (f.follow_up_done, "follow_up_done"),
        (f.no_contact, "no_contact"),
        (f.answer.safe is False, "unsafe"),
        (not (f.answer.safe and f.answer.question == "contacto"), "not_asked"),
        (f.window_open is not False, "too_soon"),
        (not f.template_configured, "no_template"),
    )
    for refused, reason in checks:
        if refused:
            return Decision(False, reason)
    return Decision(True, "template")


def contact_state(f: ContactFacts) -> ContactState:
    reply = reply_decision(f)
    goodbye = (reply.allowed and not reply.needs_confirmation and not f.left
               and not f.no_contact and f.tracker_read)
    return ContactState(f, reply, follow_up_decision(f), goodbye)
