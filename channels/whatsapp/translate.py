"""Turn her message into what Rasa receives (text and metadata).

Media she sent without words becomes the ``/medio_no_soportado`` intent: the bot answers it
from the domain (``utter_solo_texto``), so trainers edit that text, and a paused conversation
(waiting for a specialist) gets no automatic answer. A caption is her words: it goes to Rasa
as text, with the media type in the metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channels.whatsapp.inbound import InboundMessage
from channels.whatsapp.payloads import neutralise, verify_payload

LOCATION_INTENT = "/compartir_ubicacion"
UNSUPPORTED_INTENT = "/medio_no_soportado"


@dataclass(frozen=True)
class RasaInput:
    text: str
    metadata: dict[str, Any]


def to_rasa(message: InboundMessage, app_secret: str) -> RasaInput:
    """What to hand to Rasa for one of her messages."""
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
    media: dict[str, Any] = {"media_type": message.type}
    if message.text:  # a caption
        return RasaInput(neutralise(message.text), {**metadata, **media, "caption": True})
    if message.voice:
        media["voice"] = True
    return RasaInput(UNSUPPORTED_INTENT, {**metadata, **media})
