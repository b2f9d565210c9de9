"""«no me escriban»: remember it, so that nobody from the service writes to her first.

The console reads the preference (and the intent in her tracker) before a goodbye or a
follow-up; see ``console/contact.py``. Kept by a keyed digest of the conversation id.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.queue_access import get_queue
from store.privacy import log_id

logger = logging.getLogger(__name__)


class ActionNoEscribir(Action):
    def name(self) -> str:
        return "action_no_escribir"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        try:
            get_queue().set_no_contact(tracker.sender_id)
        except Exception:  # the answer must not depend on the queue being up
            logger.exception("no-contact preference not stored for %s", log_id(tracker.sender_id))
        dispatcher.utter_message(response="utter_no_escribir_primero")
        return []
