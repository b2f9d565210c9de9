"""Handing a conversation to the specialists: tickets, the handoff message, the pause."""

from __future__ import annotations

import logging
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
from handoff.priority import priority_for
from store.privacy import log_id

logger = logging.getLogger(__name__)

MAX_CONTACT_ANSWER = 120
NOT_SAFE_TO_WRITE = "no es seguro escribirle"
CANNOT_WRITE_NOW = "no puede escribir sin peligro (emergencia)"


hashed = log_id


def _safe_contact(tracker: Tracker) -> str | None:
    if tracker.get_slot("puede_escribir") is False:
        return CANNOT_WRITE_NOW
    return tracker.get_slot("contacto_seguro")


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
    )


class ActionAlertaEmergencia(Action):
    """Opens a top-priority ticket at the first emergency message, before any question,
    so that a specialist sees it even if she cannot write again."""

    def name(self) -> str:
        return "action_alerta_emergencia"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            open_or_update_ticket(tracker, level="emergency")
        except Exception:  # the queue being down must never silence the emergency answer
            logger.exception("emergency ticket not created for %s", hashed(tracker.sender_id))
        return []


class ActionHandoff(Action):
    """Creates or updates the ticket, tells her what happens next, pauses the bot."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            queue = get_queue()
            ticket = open_or_update_ticket(tracker)
            online = queue.online_agents()
            place = queue.position(ticket.id)
            wait = queue.estimated_wait_minutes(ticket.id)
        except Exception:
            logger.exception("handoff failed for %s", hashed(tracker.sender_id))
            dispatcher.utter_message(response="utter_sin_especialistas")
            return []  # not paused: without a ticket nobody would ever answer her

        safe_contact = _safe_contact(tracker)
        if safe_contact in (NOT_SAFE_TO_WRITE, CANNOT_WRITE_NOW):
            dispatcher.utter_message(response="utter_no_escribir_primero")
        elif online == 0:
            dispatcher.utter_message(response="utter_sin_especialistas")
        else:
            dispatcher.utter_message(text=_handoff_text(place, wait))
        logger.info(
            "handoff %s ticket=%s priority=%s", hashed(tracker.sender_id), ticket.id, ticket.priority
        )
        return [ConversationPaused()]


def _handoff_text(place: int | None, wait_minutes: int | None) -> str:
    text = "Listo. Una especialista te escribirá aquí."
    if place:
        text += f" Estás en el lugar {place} de la fila."
    if wait_minutes:
        text += f" Espera estimada: unos {wait_minutes} min."
    return text


class ValidateFormularioContacto(FormValidationAction):
    def name(self) -> str:
        return "validate_formulario_contacto"

    def validate_contacto_seguro(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        if not text:
            return {"contacto_seguro": None}
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
