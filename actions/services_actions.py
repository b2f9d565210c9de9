"""Answering 'where can I get help' by comuna or by shared location.

The sentences are domain responses (utter_centros_*, utter_sin_centros); the list of
services comes from the operator's file (data/servicios/servicios.csv).
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.services_catalog import Service, load_catalog


def _location(tracker: Tracker) -> tuple[float, float] | None:
    location = (tracker.latest_message.get("metadata") or {}).get("location") or {}
    try:
        return float(location["latitude"]), float(location["longitude"])
    except (KeyError, TypeError, ValueError):
        return None


def _listing(services: list[Service]) -> str:
    return "\n".join(service.as_text() for service in services)


class ActionInfoCentros(Action):
    def name(self) -> str:
        return "action_info_centros"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        catalog = load_catalog()
        location = _location(tracker)
        if location:
            nearby = catalog.nearest(*location)
            if nearby:
                dispatcher.utter_message(response="utter_centros_cercanos",
                                         servicios=_listing(nearby))
                return []
        comuna = tracker.get_slot("comuna")
        if not comuna:
            dispatcher.utter_message(response="utter_preguntar_comuna")
            return []
        services = catalog.in_comuna(comuna)
        if services:
            dispatcher.utter_message(response="utter_centros_en_comuna", comuna=comuna,
                                     servicios=_listing(services))
        else:
            dispatcher.utter_message(response="utter_sin_centros", comuna=comuna)
        return []
