"""Rasa's HTTP API as the console uses it (the token never leaves the server)."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import quote

import httpx

logger = logging.getLogger(__name__)
# httpx logs request URLs at INFO; ours carry the phone number and the API token.
logging.getLogger("httpx").setLevel(logging.WARNING)


class RasaError(Exception):
    """Rasa could not be reached or refused the request."""


class RasaAPI:
    def __init__(
        self,
        base_url: str,
        token: str = "",
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._transport = transport
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(transport=self._transport, timeout=self._timeout)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _url(self, conversation_id: str, suffix: str) -> str:
        return f"{self.base_url}/conversations/{quote(conversation_id, safe='')}/{suffix}"

    def _params(self, **extra: str) -> dict[str, str]:
        params = dict(extra)
        if self.token:
            params["token"] = self.token
        return params

    async def tracker(self, conversation_id: str) -> dict[str, Any]:
        try:
            response = await self._http().get(
                self._url(conversation_id, "tracker"), params=self._params()
            )
        except httpx.HTTPError as error:
            raise RasaError(type(error).__name__) from error
        if response.status_code != 200:
            raise RasaError(f"HTTP {response.status_code}")
        return response.json()

    async def append_events(
        self,
        conversation_id: str,
        events: list[dict[str, Any]],
        output_channel: str | None = None,
        execute_side_effects: bool = False,
    ) -> None:
        extra = {}
        if output_channel:
            extra["output_channel"] = output_channel
        if execute_side_effects:
            extra["execute_side_effects"] = "true"
        try:
            response = await self._http().post(
                self._url(conversation_id, "tracker/events"),
                params=self._params(**extra),
                json=events if len(events) != 1 else events[0],
            )
        except httpx.HTTPError as error:
            raise RasaError(type(error).__name__) from error
        if response.status_code >= 300:
            raise RasaError(f"HTTP {response.status_code}")

    async def send_bot_message(
        self, conversation_id: str, text: str, output_channel: str, metadata: dict[str, Any]
    ) -> None:
        """Rasa sends the text through the output channel and records it as a bot event."""
        event = {"event": "bot", "text": text, "timestamp": time.time(), "metadata": metadata}
        await self.append_events(conversation_id, [event], output_channel, True)

    async def pause(self, conversation_id: str) -> None:
        """Silence the bot: a specialist has the conversation."""
        await self.append_events(conversation_id, [{"event": "pause", "timestamp": time.time()}])

    async def resume(self, conversation_id: str, end_form: bool = False) -> None:
        """Hand the conversation back to the bot; ``end_form`` also ends a form left open
        (e.g. the emergency questions she never answered), so the bot starts afresh."""
        now = time.time()
        events: list[dict[str, Any]] = []
        if end_form:
            events += [{"event": "active_loop", "name": None, "timestamp": now},
                       {"event": "slot", "name": "requested_slot", "value": None,
                        "timestamp": now}]
        events.append({"event": "resume", "timestamp": now})
        await self.append_events(conversation_id, events)
