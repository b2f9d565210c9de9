"""Webhooks the way Meta sends them: payload builders, signing and delivery.

Builders return plain dicts; ``update(...)`` wraps message or status objects in the
envelope, ``encode`` gives the exact bytes, ``sign`` the ``X-Hub-Signature-256`` value
(computed here independently of the channel's own code).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Iterable
from typing import Any

import httpx

from channels.whatsapp.config import SANDBOX_APP_SECRET, SANDBOX_PHONE_NUMBER_ID
from channels.whatsapp.graph_client import shared_ssl_context

SIGNATURE_HEADER = "X-Hub-Signature-256"


def new_wamid() -> str:
    """A fresh id shaped like Meta's (``wamid.`` + base64)."""
    return "wamid." + base64.b64encode(b"\x15\x02\x00\x11\x18\x12" + os.urandom(18)).decode()


def _base(wa_id: str, kind: str, wamid: str | None, timestamp: int | None) -> dict[str, Any]:
    return {"from": wa_id, "id": wamid or new_wamid(),
            "timestamp": str(int(timestamp if timestamp is not None else time.time())),
            "type": kind}


def text_message(wa_id: str, body: str, *, wamid: str | None = None,
                 timestamp: int | None = None) -> dict[str, Any]:
    return {**_base(wa_id, "text", wamid, timestamp), "text": {"body": body}}


def button_reply_message(wa_id: str, reply_id: str, title: str, *, wamid: str | None = None,
                         timestamp: int | None = None) -> dict[str, Any]:
    return {**_base(wa_id, "interactive", wamid, timestamp),
            "interactive": {"type": "button_reply",
                            "button_reply": {"id": reply_id, "title": title}}}


def list_reply_message(wa_id: str, row_id: str, title: str, description: str | None = None, *,
                       wamid: str | None = None, timestamp: int | None = None) -> dict[str, Any]:
    reply = {"id": row_id, "title": title}
    if description:
        reply["description"] = description
    return {**_base(wa_id, "interactive", wamid, timestamp),
            "interactive": {"type": "list_reply", "list_reply": reply}}


def template_button_message(wa_id: str, payload: str, text: str, *, wamid: str | None = None,
                            timestamp: int | None = None) -> dict[str, Any]:
    return {**_base(wa_id, "button", wamid, timestamp),
            "button": {"payload": payload, "text": text}}


def location_message(wa_id: str, latitude: float, longitude: float, *, name: str | None = None,
                     address: str | None = None, wamid: str | None = None,
                     timestamp: int | None = None) -> dict[str, Any]:
    location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    if name:
        location["name"] = name
    if address:
        location["address"] = address
    return {**_base(wa_id, "location", wamid, timestamp), "location": location}


def media_message(wa_id: str, kind: str, *, caption: str | None = None, voice: bool = False,
                  wamid: str | None = None, timestamp: int | None = None) -> dict[str, Any]:
    """image, video, document, sticker or audio (``voice=True`` for a voice note)."""
    mime = {"image": "image/jpeg", "video": "video/mp4", "document": "application/pdf",
            "sticker": "image/webp", "audio": "audio/ogg; codecs=opus"}.get(kind, "application/octet-stream")
    media: dict[str, Any] = {"id": os.urandom(8).hex(), "mime_type": mime,
                             "sha256": base64.b64encode(os.urandom(32)).decode()}
    if caption:
        media["caption"] = caption
    if voice:
        media["voice"] = True
    return {**_base(wa_id, kind, wamid, timestamp), kind: media}


def image_message(wa_id: str, **kwargs: Any) -> dict[str, Any]:
    return media_message(wa_id, "image", **kwargs)


def voice_message(wa_id: str, **kwargs: Any) -> dict[str, Any]:
    return media_message(wa_id, "audio", voice=True, **kwargs)


def reaction_message(wa_id: str, message_id: str, emoji: str = "👍", *,
                     wamid: str | None = None) -> dict[str, Any]:
    return {**_base(wa_id, "reaction", wamid, None),
            "reaction": {"message_id": message_id, "emoji": emoji}}


def unsupported_message(wa_id: str, *, wamid: str | None = None) -> dict[str, Any]:
    return {**_base(wa_id, "unsupported", wamid, None),
            "errors": [{"code": 131051, "title": "Message type unknown"}]}


def revoke_message(wa_id: str, original_wamid: str, *, wamid: str | None = None,
                   timestamp: int | None = None) -> dict[str, Any]:
    """She deleted a message ("Eliminar para todos"), as pywa's fixtures show it."""
    return {**_base(wa_id, "revoke", wamid, timestamp),
            "revoke": {"original_message_id": original_wamid}}


def edit_message(wa_id: str, original_wamid: str, body: str, *,
                 wamid: str | None = None) -> dict[str, Any]:
    return {**_base(wa_id, "edit", wamid, None),
            "edit": {"original_message_id": original_wamid,
                     "message": {"type": "text", "text": {"body": body}}}}


def identity_change_message(wa_id: str, *, wamid: str | None = None) -> dict[str, Any]:
    """Her security code changed (a ``system`` message with an ``identity`` object)."""
    return {**_base(wa_id, "system", wamid, None),
            "identity": {"acknowledged": True, "created_timestamp": str(int(time.time())),
                         "hash": os.urandom(6).hex()},
            "system": {"body": "User identity changed", "type": "customer_identity_changed"}}


def number_change_message(wa_id: str, new_wa_id: str, *,
                          wamid: str | None = None) -> dict[str, Any]:
    return {**_base(wa_id, "system", wamid, None),
            "system": {"body": f"User A changed from {wa_id} to {new_wa_id}",
                       "wa_id": new_wa_id, "type": "user_changed_number"}}


def call_permission_reply_message(wa_id: str, response: str = "accept", *,
                                  wamid: str | None = None) -> dict[str, Any]:
    return {**_base(wa_id, "interactive", wamid, None),
            "interactive": {"type": "call_permission_reply", "call_permission_reply": {
                "response": response, "response_source": "user_action"}}}


def flow_completion_message(wa_id: str, *, wamid: str | None = None) -> dict[str, Any]:
    return {**_base(wa_id, "interactive", wamid, None),
            "interactive": {"type": "nfm_reply", "nfm_reply": {
                "response_json": "{\"flow_token\":\"x\"}", "body": "Sent", "name": "flow"}}}


def status_object(wamid: str, status: str, recipient_id: str, *,
                  error_code: int | None = None, error_title: str | None = None,
                  callback: str | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(int(time.time())),
                           "recipient_id": recipient_id}
    if callback:
        obj["biz_opaque_callback_data"] = callback
    if error_code is not None:
        obj["errors"] = [{"code": error_code, "title": error_title or "Error"}]
    return obj


def update(*, messages: Iterable[dict[str, Any]] = (), statuses: Iterable[dict[str, Any]] = (),
           phone_number_id: str = SANDBOX_PHONE_NUMBER_ID,
           display_phone_number: str = "56900000000", profile_name: str = "Usuaria",
           ) -> dict[str, Any]:
    """The envelope Meta posts: one entry, one ``messages`` change."""
    messages, statuses = list(messages), list(statuses)
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_phone_number,
                     "phone_number_id": phone_number_id},
    }
    senders = list(dict.fromkeys(m["from"] for m in messages if "from" in m))
    if senders:
        value["contacts"] = [{"profile": {"name": profile_name}, "wa_id": s} for s in senders]
    if messages:
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "sandbox-waba",
                       "changes": [{"field": "messages", "value": value}]}]}


def encode(payload: dict[str, Any]) -> bytes:
    """UTF-8 bytes with raw (unescaped) accents and emoji."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(body: bytes, app_secret: str = SANDBOX_APP_SECRET) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """Posts signed updates to the channel's webhook over one pooled client."""

    def __init__(self, webhook_url: str, app_secret: str = SANDBOX_APP_SECRET,
                 timeout: float = 10.0) -> None:
        self.webhook_url = webhook_url
        self.app_secret = app_secret
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(timeout=self._timeout, verify=shared_ssl_context())
        return self._client

    async def deliver(self, payload: dict[str, Any] | bytes, *,
                      signature: str | None = "auto") -> httpx.Response:
        """Post ``payload``; ``signature="auto"`` signs it, None sends no signature."""
        body = payload if isinstance(payload, bytes) else encode(payload)
        headers = {"Content-Type": "application/json"}
        if signature == "auto":
            headers[SIGNATURE_HEADER] = sign(body, self.app_secret)
        elif signature is not None:
            headers[SIGNATURE_HEADER] = signature
        return await self._http().post(self.webhook_url, content=body, headers=headers)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
