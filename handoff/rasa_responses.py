"""Sending a domain response to her from outside a turn, through Rasa's HTTP API.

The text lives in domain.yml (trainers edit it). It is read from the running model's domain
(``GET /domain``) and appended as a ``bot`` event with ``output_channel=latest`` and
``execute_side_effects=true``: Rasa sends it through the conversation's channel and records
it, without an action event, so a paused conversation's dialogue state is left as it was.
(Rasa's ``/execute`` would add an action event, and her first message after the case is
closed would then not follow the rules.)

The console engineer is building the project's single Rasa API client
(``handoff/rasa_api.py``); this module's one request function moves there when it lands.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any
from urllib.parse import quote

import httpx

from store.privacy import log_id

logger = logging.getLogger(__name__)
# httpx logs every request URL at INFO: ours carry the phone number and the API token.
logging.getLogger("httpx").setLevel(logging.WARNING)

DEFAULT_RASA_URL = "http://127.0.0.1:5005"


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
                 transport: httpx.AsyncBaseTransport | None = None, retries: int = 3) -> None:
        self.rasa_url = (rasa_url or os.environ.get("RASA_URL") or DEFAULT_RASA_URL).rstrip("/")
        self.token = token if token is not None else os.environ.get("RASA_API_TOKEN", "")
        self._transport = transport
        self._retries = retries
        self._responses: dict[str, Any] = {}
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(transport=self._transport, timeout=15.0)
        return self._client

    def _params(self, **extra: str) -> dict[str, str]:
        return {**extra, **({"token": self.token} if self.token else {})}

    async def _response(self, name: str) -> dict[str, Any] | None:
        if name not in self._responses:
            answer = await self._http().get(f"{self.rasa_url}/domain", params=self._params(),
                                            headers={"Accept": "application/json"})
            answer.raise_for_status()
            self._responses = answer.json().get("responses") or {}
        return render(self._responses.get(name) or [])

    async def send_response(self, conversation_id: str, name: str, source: str) -> bool:
        """Send response ``name`` of the domain to her; False if Rasa could not do it."""
        who = log_id(conversation_id)
        url = f"{self.rasa_url}/conversations/{quote(conversation_id, safe='')}/tracker/events"
        params = self._params(output_channel="latest", execute_side_effects="true")
        for attempt in range(1, self._retries + 1):
            try:
                message = await self._response(name)
                if message is None:
                    logger.error("The domain has no response %s; nothing sent.", name)
                    return False
                event = {"event": "bot", "timestamp": time.time(), **message,
                         "metadata": {"source": source, "utter_action": name}}
                answer = await self._http().post(url, params=params, json=event)
                if answer.status_code < 300:
                    return True
                logger.error("Rasa refused %s: HTTP %s (conversation %s).", name,
                             answer.status_code, who)
                if answer.status_code < 500:
                    return False
            except httpx.HTTPError as error:
                logger.error("Could not reach Rasa (%s), attempt %s (conversation %s).",
                             type(error).__name__, attempt, who)
            if attempt < self._retries:
                await asyncio.sleep(0.5 * attempt)
        return False

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
