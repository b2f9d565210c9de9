"""Answering 'where can I get help' by comuna or by shared location."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.services_catalog import Service, load_catalog

NO_ENTRY = (
    "No tengo centros registrados en {comuna}. Llama al 1455 (gratis): "
    "te orientan sobre dónde ir cerca de ti."
)


def _location(tracker: Tracker) -> tuple[float, float] | None:
    location = (tracker.latest_message.get("metadata") or {}).get("location") or {}
    try:
        return float(location["latitude"]), float(location["longitude"])
    except (KeyError, TypeError, ValueError):
        return None


def _listing(title: str, services: list[Service]) -> str:
    return "\n".join([title, *(service.as_text() for service in services)])


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
                dispatcher.utter_message(text=_listing("Lo más cercano a tu ubicación:", nearby))
                return []
        comuna = tracker.get_slot("comuna")
        if not comuna:
            dispatcher.utter_message(response="utter_preguntar_comuna")
            return []
        services = catalog.in_comuna(comuna)
        if services:
            dispatcher.utter_message(text=_listing(f"En {comuna} puedes acudir a:", services))
        else:
            dispatcher.utter_message(text=NO_ENTRY.format(comuna=comuna))
        return []
