"""Handing a conversation to the specialists: tickets, the handoff message, the pause."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, EventType, SessionStarted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation_state import (
    conversation_level,
    most_severe_intent,
    screening_answers,
)
from actions.queue_access import get_queue
from actions.reasons import handoff_reason
from components.text import normalize
from handoff.hours import describe_return, is_open, load_schedule, next_opening
from handoff.priority import priority_for
from store.privacy import log_id

logger = logging.getLogger(__name__)

MAX_CONTACT_ANSWER = 120
NOT_SAFE_TO_WRITE = "no es seguro escribirle"
CANNOT_WRITE_NOW = "no puede escribir sin peligro (emergencia)"
CAN_WRITE_NOW = "puede seguir escribiendo (emergencia)"
# A longer estimate is not stated: hours of waiting read as «nobody will come», and the
# estimate (recent claim rate) is least reliable exactly then.
MAX_STATED_WAIT_MINUTES = 30
UNCLEAR_TWICE = "no es seguro escribirle (respuesta poco clara)"
NOT_SAFE_ANSWERS = (NOT_SAFE_TO_WRITE, CANNOT_WRITE_NOW, UNCLEAR_TWICE)
# Creating the emergency ticket: attempts and the pause between them (seconds).
TICKET_ATTEMPTS = 3
TICKET_RETRY_PAUSE = 0.3
# Words of doubt in a typed answer to "is it safe to write to you?" (normalised, no accents).
DOUBT_MARKERS = ("no se", "nose", "a veces", "creo", "tal vez", "talvez", "quizas", "quiza",
                 "capaz", "depende", "no estoy segura", "mas o menos", "puede ser", "no sabria")

hashed = log_id


def _safe_contact(tracker: Tracker) -> str | None:
    """Her answer about being written to, for the specialist (the contact question wins)."""
    if tracker.get_slot("puede_escribir") is False:
        return CANNOT_WRITE_NOW
    answer = tracker.get_slot("contacto_seguro")
    if answer is None and tracker.get_slot("puede_escribir") is True:
        return CAN_WRITE_NOW
    return answer


def _screening(tracker: Tracker) -> dict[str, Any] | None:
    result = tracker.get_slot("resultado_evaluacion")
    if result is None:
        return None
    return {"answers": screening_answers(tracker), "result": result}


def open_or_update_ticket(tracker: Tracker, level: str | None = None):
    """Create (or update) this conversation's ticket from what the session has shown so far."""
    level = level or conversation_level(tracker)
    priority = priority_for(level, tracker.get_slot("resultado_evaluacion"))
    return get_queue().open_ticket(
        conversation_id=tracker.sender_id,
        level=level,
        priority=priority,
        reason=handoff_reason(level, most_severe_intent(tracker, level)),
        safe_contact=_safe_contact(tracker),
        screening=_screening(tracker),
        # only from a place she gave (her comuna's region or a region she named)
        region=tracker.get_slot("region"),
    )


async def open_ticket_with_retries(tracker: Tracker, level: str | None = None):
    """``open_or_update_ticket`` tried a bounded number of times; the last error is raised."""
    for attempt in range(1, TICKET_ATTEMPTS + 1):
        try:
            return await asyncio.to_thread(open_or_update_ticket, tracker, level)
        except Exception:
            if attempt == TICKET_ATTEMPTS:
                raise
            logger.warning("ticket for %s not saved (attempt %s); retrying",
                           hashed(tracker.sender_id), attempt)
            await asyncio.sleep(TICKET_RETRY_PAUSE * attempt)
    raise AssertionError("unreachable")


class ActionAlertaEmergencia(Action):
    """Opens a top-priority ticket at the first emergency message, before any question,
    so that a specialist sees it even if she cannot write again."""

    def name(self) -> str:
        return "action_alerta_emergencia"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            await open_ticket_with_retries(tracker, level="emergency")
        except Exception as error:  # the emergency answer was already sent by Rasa
            # No phone number, no text: the hashed id and the error type only.
            logger.critical("EMERGENCY TICKET NOT CREATED for conversation %s after %s "
                            "attempts (%s)", hashed(tracker.sender_id), TICKET_ATTEMPTS,
                            type(error).__name__)
        return []


class ActionHandoff(Action):
    """Creates or updates the ticket, tells her what happens next, pauses the bot."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        level = conversation_level(tracker)
        try:
            ticket = await open_ticket_with_retries(tracker, level)
            message = await asyncio.to_thread(_handoff_message, tracker, level, ticket.id)
        except Exception as error:
            logger.critical("HANDOFF TICKET NOT CREATED for conversation %s (%s)",
                            hashed(tracker.sender_id), type(error).__name__)
            dispatcher.utter_message(response="utter_derivacion_fallida")
            return []  # not paused: without a ticket nobody would ever answer her
        response, values = message
        dispatcher.utter_message(response=response, **values)
        logger.info("handoff %s ticket=%s priority=%s",
                    hashed(tracker.sender_id), ticket.id, ticket.priority)
        # action_listen after the pause: when the case is closed and the bot resumes, her
        # first message is read as an answer to a listening bot (rules need that), not lost.
        return [ConversationPaused(), ActionExecuted("action_listen")]


def _handoff_message(tracker: Tracker, level: str, ticket_id: int) -> tuple[str, dict[str, Any]]:
    """Which handoff response to send, with its values."""
    if _safe_contact(tracker) in NOT_SAFE_ANSWERS:
        return "utter_no_escribir_primero", {}
    now = datetime.now(timezone.utc)
    schedule = load_schedule()
    if not is_open(schedule, now):
        opening = next_opening(schedule, now)
        if opening is not None:
            return "utter_fuera_de_horario", {"vuelta": describe_return(opening, now)}
    if level == "emergency":
        return "utter_derivacion_emergencia", {}
    queue = get_queue()
    if queue.online_agents() == 0:
        return "utter_sin_especialistas", {}
    place, wait = queue.position(ticket_id), queue.estimated_wait_minutes(ticket_id)
    if place and wait and wait <= MAX_STATED_WAIT_MINUTES:
        return "utter_derivacion_fila", {"lugar": place, "espera": wait}
    if place:
        return "utter_derivacion_lugar", {"lugar": place}
    return "utter_derivacion", {}


def _typed_doubt(tracker: Tracker) -> bool:
    """Her typed answer hesitates («no sé, a veces creo que sí»); a tapped button never does."""
    message = tracker.latest_message or {}
    if (message.get("metadata") or {}).get("payload"):
        return False
    text = f" {normalize(str(message.get('text') or ''))} "
    return any(f" {marker} " in text for marker in DOUBT_MARKERS)


class ValidateFormularioContacto(FormValidationAction):
    def name(self) -> str:
        return "validate_formulario_contacto"

    def validate_contacto_seguro(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """An unclear answer is asked again once (other words), then taken as «not safe»."""
        text = str(value or "").strip()
        if _typed_doubt(tracker) or not text:
            if tracker.get_slot("contacto_repreguntado"):
                return {"contacto_seguro": UNCLEAR_TWICE}
            return {"contacto_seguro": None, "contacto_repreguntado": True}
        return {"contacto_seguro": text[:MAX_CONTACT_ANSWER]}


class ActionSessionStart(Action):
    """A new session must not hand a waiting woman back to the bot: re-pause if a ticket is open."""

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        try:
            if get_queue().open_ticket_for(tracker.sender_id) is not None:
                events.append(ConversationPaused())
        except Exception:
            logger.exception("could not check the queue for %s", hashed(tracker.sender_id))
        events.append(ActionExecuted("action_listen"))
        return events

