"""Clarification after a message the bot did not understand, and media it cannot read."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.conversation_state import previous_user_intent
from triage.levels import FALLBACK_INTENT


class ActionAclarar(Action):
    """First miss: a short clarification with the menu. Two in a row: offer a person."""

    def name(self) -> str:
        return "action_aclarar"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if previous_user_intent(tracker) == FALLBACK_INTENT:
            dispatcher.utter_message(response="utter_ofrecer_persona")
        else:
            dispatcher.utter_message(response="utter_no_entendi")
            dispatcher.utter_message(response="utter_menu")
        return []


class ActionMedioNoSoportado(Action):
    """Media she sent without words (the WhatsApp channel passes it as this intent and no
    longer answers by itself), or text about media: the domain's answer."""

    def name(self) -> str:
        return "action_medio_no_soportado"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_solo_texto")
        return []
