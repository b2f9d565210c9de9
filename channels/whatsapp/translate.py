"""Turn an inbound WhatsApp message into what Rasa receives (text and metadata)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channels.whatsapp.inbound import InboundMessage
from channels.whatsapp.payloads import neutralise, verify_payload
from channels.whatsapp.replies import auto_reply_for

LOCATION_INTENT = "/compartir_ubicacion"
UNSUPPORTED_INTENT = "/medio_no_soportado"


@dataclass(frozen=True)
class RasaInput:
    text: str
    metadata: dict[str, Any]
    auto_reply: str | None = None  # sent by the channel itself before Rasa's turn


def to_rasa(message: InboundMessage, app_secret: str) -> RasaInput | None:
    """What to hand to Rasa for ``message``; None for messages that are ignored."""
    metadata: dict[str, Any] = {
        "wa_message_id": message.message_id,
        "timestamp": message.timestamp,
        "type": message.type,
    }
    if message.kind == "text":
        return RasaInput(neutralise(message.text), metadata)
    if message.kind == "reply":
        payload = verify_payload(message.reply_id, message.sender, app_secret)
        if payload is not None:
            return RasaInput(payload, {**metadata, "payload": True})
        return RasaInput(neutralise(message.reply_title), metadata)
    if message.kind == "location":
        return RasaInput(LOCATION_INTENT, {**metadata, "location": dict(message.location or {})})
    if message.kind == "reaction":
        return None
    media: dict[str, Any] = {"media_type": message.type}
    if message.voice:
        media["voice"] = True
    return RasaInput(UNSUPPORTED_INTENT, {**metadata, **media}, auto_reply_for(message.type))
