"""The emergency form and the risk screening result.

The ``nivel`` slot is filled inside Rasa from the NLU's ``nivel`` entity (domain.yml): the
emergency answer never waits for this action server.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation_state import screening_answers, screening_result
from components.chile_geo import load_geo


class ValidateFormularioEmergencia(FormValidationAction):
    """One question at a time; if she cannot write safely, ask nothing more."""

    def name(self) -> str:
        return "validate_formulario_emergencia"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("puede_escribir") is False:
            return [slot for slot in domain_slots if slot != "ubicacion"]
        return domain_slots

    def validate_ubicacion(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Any answer is accepted (never ask twice in an emergency); a comuna in it is kept."""
        text = str(value or "").strip()
        slots: dict[str, Any] = {"ubicacion": text[:120] if text else None}
        place = next((m.place for m in load_geo().find(text) if m.place.entity == "comuna"), None)
        if place:
            slots.update(comuna=place.name, region=place.region)
        return slots


RESULT_RESPONSES = {
    "alto": "utter_resultado_alto",
    "no_alto": "utter_resultado_no_alto",
    "incompleta": "utter_resultado_incompleta",
}


class ActionResultadoEvaluacion(Action):
    """Scores the five DA-5 answers and says plainly that it is not a diagnosis."""

    def name(self) -> str:
        return "action_resultado_evaluacion"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        result = screening_result(screening_answers(tracker))
        dispatcher.utter_message(response=RESULT_RESPONSES[result])
        return [SlotSet("resultado_evaluacion", result)]
