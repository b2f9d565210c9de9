"""Sending a domain response to her from outside a turn (the escalation broker).

The text lives in domain.yml (trainers edit it). It is read from the served model's domain
and appended as a ``bot`` event with ``output_channel=latest`` and ``execute_side_effects``
through the project's one Rasa client (handoff/rasa_api.py): Rasa sends it through her channel
and records it, without an action event, so a paused conversation's dialogue state is left as
it was. (Rasa's ``/execute`` would add an action event, and her first message after the case
is closed would then not follow the rules.)
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from handoff.rasa_api import RasaAPI, RasaError
from store.privacy import log_id

logger = logging.getLogger(__name__)


def render(variations: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first unconditional variation of a response as a bot event's text and data."""
    for variation in variations or []:
        if variation.get("condition") or not variation.get("text"):
            continue
        data = {"buttons": variation["buttons"]} if variation.get("buttons") else {}
        return {"text": variation["text"], "data": data}
    return None


class RasaResponses:
    def __init__(self, rasa_url: str | None = None, token: str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, retries: int = 3,
                 api: RasaAPI | None = None) -> None:
        self.api = api or RasaAPI(rasa_url, token, transport=transport, retries=retries)

    async def send_response(self, conversation_id: str, name: str, source: str) -> bool:
        """Send response ``name`` of the domain to her; False if Rasa could not do it."""
        try:
            responses = (await self.api.domain()).get("responses") or {}
            message = render(responses.get(name) or [])
            if message is None:
                logger.error("The domain has no response %s; nothing sent.", name)
                return False
            await self.api.post_bot_message(
                conversation_id, message["text"], output_channel="latest",
                metadata={"source": source, "utter_action": name}, data=message["data"] or None)
            return True
        except RasaError as error:
            logger.error("Rasa could not send %s (%s) to conversation %s.", name, error,
                         log_id(conversation_id))
            return False

    async def aclose(self) -> None:
        await self.api.close()
