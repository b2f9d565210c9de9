"""«Borrar mis datos»: after she confirms, her data is erased (``store/erasure.py``).

Her ticket content and the channel's rows go now; her tracker is deleted by Rasa after this
turn, under her conversation lock (Rasa saves the tracker at the end of the turn, so it
cannot be deleted from here). The answer tells her to delete the chat on her phone too.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.queue_access import get_queue
from store.erasure import ErasureSource, erase
from store.privacy import log_id

logger = logging.getLogger(__name__)


class ActionBorrarDatos(Action):
    def name(self) -> str:
        return "action_borrar_datos"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        try:
            await asyncio.to_thread(erase, tracker.sender_id, ErasureSource.SHE, None,
                                    get_queue())
        except Exception:  # noqa: BLE001 - she must not be told it is done when it is not
            logger.exception("erasure not recorded for %s", log_id(tracker.sender_id))
            dispatcher.utter_message(response="utter_borrado_fallo")
            return []
        dispatcher.utter_message(response="utter_datos_borrados")
        return []
