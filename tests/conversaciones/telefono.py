"""Her phone in a conversation case: writes through the simulator (a signed webhook, as Meta
sends it) and reads what the simulator's phone shows, in order."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from simulator import webhooks as wh

POLL_SECONDS = 0.1


def raw_event(kind: str, wa_id: str) -> dict[str, Any]:
    """A message object WhatsApp sends that is not her words (shapes from Meta's webhooks)."""
    base = {"from": wa_id, "id": wh.new_wamid(), "timestamp": str(int(time.time()))}
    if kind == "mensaje_borrado":
        return {**base, "type": "revoke", "revoke": {"original_message_id": wh.new_wamid()}}
    if kind == "permiso_de_llamada":
        return {**base, "type": "interactive", "interactive": {
            "type": "call_permission_reply",
            "call_permission_reply": {"response": "reject", "response_source": "user_action"}}}
    if kind == "cambio_de_identidad":
        return {**base, "type": "system",
                "identity": {"acknowledged": True, "created_timestamp": base["timestamp"],
                             "hash": "h"},
                "system": {"body": "User identity changed", "type": "customer_identity_changed"}}
    if kind == "cambio_de_numero":
        return {**base, "type": "system", "system": {
            "body": "User changed number", "wa_id": "56" + wa_id[-9:],
            "type": "user_changed_number"}}
    if kind == "flujo_completado":
        return {**base, "type": "interactive", "interactive": {
            "type": "nfm_reply", "nfm_reply": {"response_json": json.dumps({"flow_token": "x"}),
                                               "body": "Sent", "name": "flow"}}}
    raise ValueError(kind)


class Phone:
    def __init__(self, simulator_url: str, webhook_url: str, wa_id: str) -> None:
        self.wa_id = wa_id
        self.simulator_url = simulator_url.rstrip("/")
        self.webhook = wh.WebhookSender(webhook_url)
        self.http = httpx.AsyncClient(timeout=20)
        self.seen_seq = 0  # bot messages up to here were already compared
        self.last_with_buttons: dict[str, Any] | None = None

    async def _send(self, **data: Any) -> None:
        answer = await self.http.post(f"{self.simulator_url}/_sim/send",
                                      json={"wa_id": self.wa_id, **data})
        if answer.status_code != 200 or answer.json().get("webhook_status") != 200:
            raise AssertionError(f"el webhook no aceptó el mensaje: {answer.text[:200]}")

    async def write(self, text: str) -> None:
        await self._send(type="text", text=text)

    async def tap(self, title: str) -> None:
        """Tap a button (or list row) of the latest bot message that had options, by title."""
        message = self.last_with_buttons
        options = (message or {}).get("buttons") or ((message or {}).get("list") or {}).get("rows")
        chosen = next((o for o in options or [] if o["title"] == title), None)
        if chosen is None:
            shown = [o["title"] for o in options or []]
            raise AssertionError(f"no hay un botón «{title}» en el último mensaje (hay: {shown})")
        kind = "button_reply" if message.get("buttons") else "list_reply"
        await self._send(type=kind, id=chosen["id"], title=chosen["title"])

    async def share_location(self, latitude: float, longitude: float) -> None:
        await self._send(type="location", latitude=latitude, longitude=longitude)

    async def send_media(self, kind: str) -> None:
        await self._send(type=kind)

    async def send_raw(self, kind: str) -> None:
        payload = wh.update(messages=[raw_event(kind, self.wa_id)])
        answer = await self.webhook.deliver(payload)
        if answer.status_code != 200:
            raise AssertionError(f"el webhook respondió {answer.status_code} al evento {kind}")

    async def _bot_messages(self) -> list[dict[str, Any]]:
        answer = await self.http.get(f"{self.simulator_url}/_sim/conversations/{self.wa_id}",
                                     params={"after": self.seen_seq})
        return [e for e in answer.json()["events"] if e["direction"] == "out"]

    async def next_message(self, timeout: float) -> dict[str, Any] | None:
        """The next bot message not compared yet, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            messages = await self._bot_messages()
            if messages:
                message = messages[0]
                self.seen_seq = message["seq"]
                if message.get("buttons") or message.get("list"):
                    self.last_with_buttons = message
                return message
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(POLL_SECONDS)

    async def unread(self) -> list[dict[str, Any]]:
        return await self._bot_messages()

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.webhook.aclose()
