"""The project's one client for Rasa's HTTP API (the console and the escalation broker).

Rasa runs with ``--enable-api --auth-token $RASA_API_TOKEN``; the token travels as ``?token=``
and never leaves the server. Failures raise ``RasaError`` (with the HTTP status when there was
one); callers decide what she or the specialist sees. Transient failures (connection errors,
HTTP 5xx) are retried ``retries`` times with a short back-off.

For the escalation broker: ``post_bot_message(conversation_id, text, output_channel="latest",
metadata={...})`` sends a text through her channel and records it as a bot event;
``execute_action(conversation_id, "utter_x", output_channel)`` runs an action or response.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any
from urllib.parse import quote

import httpx

logger = logging.getLogger(__name__)
# httpx logs request URLs at INFO; ours carry the phone number and the API token.
logging.getLogger("httpx").setLevel(logging.WARNING)

DEFAULT_RASA_URL = "http://127.0.0.1:5005"
ALL_EVENTS = "ALL"  # across restarts («salir»), not only after the last one


class RasaError(Exception):
    """Rasa could not be reached or refused the request."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RasaAPI:
    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 15.0,
        retries: int = 1,
    ) -> None:
        self.base_url = (base_url or os.environ.get("RASA_URL") or DEFAULT_RASA_URL).rstrip("/")
        self.token = token if token is not None else os.environ.get("RASA_API_TOKEN", "")
        self._transport = transport
        self._timeout = timeout
        self._retries = max(1, retries)
        self._client: httpx.AsyncClient | None = None
        self._domain: dict[str, Any] | None = None
        self._domain_at = 0.0

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

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request, retried on connection errors and 5xx; raises RasaError otherwise."""
        error = RasaError("no attempt")
        for attempt in range(1, self._retries + 1):
            try:
                response = await self._http().request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                error = RasaError(type(exc).__name__)
            else:
                if response.status_code < 300:
                    return response
                error = RasaError(f"HTTP {response.status_code}", response.status_code)
                if response.status_code < 500:
                    raise error
            if attempt < self._retries:
                await asyncio.sleep(0.5 * attempt)
        raise error

    # ------------------------------------------------------------------ reading
    async def tracker(self, conversation_id: str, all_events: bool = False) -> dict[str, Any]:
        """Her tracker; ``all_events`` also returns what came before a restart."""
        extra = {"include_events": ALL_EVENTS} if all_events else {}
        response = await self._request("GET", self._url(conversation_id, "tracker"),
                                       params=self._params(**extra))
        return response.json()

    async def domain(self, max_age_seconds: float = 60.0) -> dict[str, Any]:
        """The served model's domain (responses trainers edit in domain.yml), cached briefly."""
        if self._domain is None or time.monotonic() - self._domain_at > max_age_seconds:
            response = await self._request("GET", f"{self.base_url}/domain",
                                           params=self._params(),
                                           headers={"Accept": "application/json"})
            self._domain, self._domain_at = response.json(), time.monotonic()
        return self._domain

    async def response_text(self, name: str) -> str:
        """The first text variation of a response in the served domain (RasaError if none)."""
        variations = ((await self.domain()).get("responses") or {}).get(name) or []
        for variation in variations:
            if isinstance(variation, dict) and variation.get("text"):
                return str(variation["text"])
        raise RasaError(f"response {name} has no text in the served model")

    # ------------------------------------------------------------------ writing
    async def append_events(
        self,
        conversation_id: str,
        events: list[dict[str, Any]],
        output_channel: str | None = None,
        execute_side_effects: bool = False,
    ) -> dict[str, Any]:
        extra = {}
        if output_channel:
            extra["output_channel"] = output_channel
        if execute_side_effects:
            extra["execute_side_effects"] = "true"
        response = await self._request(
            "POST", self._url(conversation_id, "tracker/events"), params=self._params(**extra),
            json=events if len(events) != 1 else events[0])
        return response.json() if response.content else {}

    async def post_bot_message(
        self,
        conversation_id: str,
        text: str | None,
        output_channel: str,
        metadata: dict[str, Any],
        data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Rasa sends the message through the output channel and records it as a bot event.
        ``data`` carries e.g. ``{"custom": {...}}`` (a WhatsApp template)."""
        event: dict[str, Any] = {"event": "bot", "text": text, "timestamp": time.time(),
                                 "metadata": metadata}
        if data:
            event["data"] = data
        return await self.append_events(conversation_id, [event], output_channel, True)

    # the name the console used before the move
    send_bot_message = post_bot_message

    async def execute_action(self, conversation_id: str, name: str,
                             output_channel: str | None = None) -> dict[str, Any]:
        """Run an action (or a response) now, its messages through ``output_channel``."""
        extra = {"output_channel": output_channel} if output_channel else {}
        response = await self._request("POST", self._url(conversation_id, "execute"),
                                       params=self._params(**extra), json={"name": name})
        return response.json()

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
