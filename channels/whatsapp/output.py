"""The output channel: Rasa's responses as rows of the WhatsApp outbox.

Used by bot turns (the inbox worker builds one per turn, bound to her message) and by Rasa's
HTTP API (``output_channel=whatsapp`` or ``latest``: the console's replies and the escalation
broker's messages). A send method stores the message objects in the outbox and returns; the
outbox sender delivers them (sender.py). Nothing raises into Rasa, except inside an inbox
turn when the outbox cannot be written: then the turn ends unsaved and is replayed
(turn_guard.py).

Idempotency: a turn's n-th message has the key ``turn:<digest of her message id>:<n>``, so a
replayed turn stores nothing twice; a message posted with ``metadata.client_ref`` has the
key ``ref:<client_ref>:<n>``, so a retried console call is not sent twice either.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any

from rasa.core.channels.channel import OutputChannel

from channels.whatsapp import formatting as fmt
from channels.whatsapp import outbox
from channels.whatsapp.config import WhatsAppConfig, load_config
from channels.whatsapp.graph_client import GraphClient
from channels.whatsapp.outbox import OutboundRequest
from channels.whatsapp.payloads import BUTTON_ID_MAX, LIST_ROW_ID_MAX, sign_payload
from channels.whatsapp.privacy import hash_id
from channels.whatsapp.replies import CHOOSE_OPTION, MENU_LABEL
from channels.whatsapp.turn_guard import OutboxUnavailable, in_guarded_turn

logger = logging.getLogger(__name__)

SOURCE_MAX = 32
CLIENT_REF_MAX = 64


class WhatsAppOutput(OutputChannel):
    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    def __init__(self, config: WhatsAppConfig, graph: GraphClient | None = None, *,
                 turn_digest: str | None = None,
                 notify: Callable[[], None] | None = None) -> None:
        self.config = config
        self.graph = graph  # the sender's client (kept for callers that share it)
        self.turn_digest = turn_digest
        self._notify = notify
        self._count = 0  # messages stored by this output (the n of the keys)

    @classmethod
    def from_env(cls) -> WhatsAppOutput:
        """A standalone output channel configured from the environment (stores in the
        outbox of ``DATABASE_URL``; a running channel instance sends it)."""
        config = load_config()
        return cls(config, GraphClient.from_config(config))

    # --- Rasa's send methods -------------------------------------------------------

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._store(recipient_id, self._text_messages(text), kwargs)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        options = [b for b in buttons or [] if isinstance(b, dict) and b.get("title")]
        if not options:
            await self.send_text_message(recipient_id, text, **kwargs)
            return
        if len(options) > fmt.MAX_LIST_ROWS:
            numbered = "\n".join(f"{i}. {b['title']}" for i, b in enumerate(options, 1))
            await self.send_text_message(recipient_id, f"{text or ''}\n\n{numbered}", **kwargs)
            return
        messages: list[dict[str, Any]] = []
        body = (text or "").strip()
        if len(body) > fmt.INTERACTIVE_BODY_LIMIT:
            messages, body = self._text_messages(body), ""
        body = body or CHOOSE_OPTION
        if len(options) <= fmt.MAX_BUTTONS:
            interactive = self._reply_buttons(recipient_id, body, options)
        else:
            label = fmt.shorten(kwargs.get("button_label") or MENU_LABEL, fmt.MENU_LABEL_LIMIT)
            interactive = self._list(recipient_id, body, options, label)
        messages.append({"type": "interactive", "interactive": interactive})
        await self._store(recipient_id, messages, kwargs)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._store(recipient_id, [{"type": "image", "image": {"link": image}}], kwargs)

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        message = json_message.get("whatsapp", json_message)
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            logger.warning("custom JSON for %s has no WhatsApp message type; not sent",
                           hash_id(recipient_id))
            return
        message = dict(message)
        if message["type"] == "template" and isinstance(message.get("template"), dict):
            message["template"] = self._sign_template(recipient_id, message["template"])
        await self._store(recipient_id, [message], kwargs)

    @staticmethod
    def _text_messages(text: str | None) -> list[dict[str, Any]]:
        return [{"type": "text", "text": {"body": chunk}} for chunk in fmt.split_text(text or "")]

    # --- building blocks -----------------------------------------------------------

    def _reply_id(self, recipient_id: str, button: dict[str, Any], index: int,
                  max_length: int) -> str:
        payload = str(button.get("payload") or button["title"])
        signed = sign_payload(payload, recipient_id, self.config.app_secret, max_length)
        if signed is None:
            logger.warning("button payload of %d characters is too long to sign; the reply "
                           "will arrive as its title", len(payload))
            return f"option-{index}"
        return signed

    def _reply_buttons(self, recipient_id: str, body: str,
                       options: list[dict[str, Any]]) -> dict[str, Any]:
        titles = fmt.unique_titles([str(b["title"]) for b in options], fmt.BUTTON_TITLE_LIMIT)
        buttons = [
            {"type": "reply", "reply": {
                "id": self._reply_id(recipient_id, b, i, BUTTON_ID_MAX), "title": title}}
            for i, (b, title) in enumerate(zip(options, titles, strict=True))
        ]
        return {"type": "button", "body": {"text": body}, "action": {"buttons": buttons}}

    def _list(self, recipient_id: str, body: str, options: list[dict[str, Any]],
              label: str) -> dict[str, Any]:
        rows = []
        titles = fmt.unique_titles([str(b["title"]) for b in options], fmt.ROW_TITLE_LIMIT)
        for i, (b, title) in enumerate(zip(options, titles, strict=True)):
            row = {"id": self._reply_id(recipient_id, b, i, LIST_ROW_ID_MAX), "title": title}
            description = b.get("description") or (
                b["title"] if len(" ".join(str(b["title"]).split())) > fmt.ROW_TITLE_LIMIT
                else None)
            if description:
                row["description"] = fmt.shorten(description, fmt.ROW_DESCRIPTION_LIMIT)
            rows.append(row)
        return {"type": "list", "body": {"text": body},
                "action": {"button": label, "sections": [{"rows": rows}]}}

    def _sign_template(self, recipient_id: str, template: dict[str, Any]) -> dict[str, Any]:
        """Sign quick-reply payloads so the user's tap comes back as a trusted payload."""
        components = []
        for component in template.get("components") or []:
            if isinstance(component, dict) and component.get("sub_type") == "quick_reply":
                params = []
                for param in component.get("parameters") or []:
                    if isinstance(param, dict) and isinstance(param.get("payload"), str):
                        signed = sign_payload(param["payload"], recipient_id,
                                              self.config.app_secret)
                        param = {**param, "payload": signed or param["payload"]}
                    params.append(param)
                component = {**component, "parameters": params}
            components.append(component)
        return {**template, "components": components} if components else template

    # --- storing ---------------------------------------------------------------------------

    def _key(self, client_ref: str | None) -> str:
        index, self._count = self._count, self._count + 1
        if self.turn_digest:
            return f"turn:{self.turn_digest}:{index}"
        if client_ref:
            return f"ref:{client_ref}:{index}"
        return f"once:{uuid.uuid4().hex}"

    async def _store(self, recipient_id: str, messages: list[dict[str, Any]],
                     meta: dict[str, Any]) -> None:
        """Store the messages (one transaction) and wake the sender. Never raises into
        Rasa, except ``OutboxUnavailable`` inside an inbox turn."""
        if not messages:
            return
        source = str(meta.get("source") or "bot")[:SOURCE_MAX]
        ref = meta.get("client_ref")
        client_ref = str(ref)[:CLIENT_REF_MAX] if isinstance(ref, str | int) and ref else None
        requests = [OutboundRequest(key=self._key(client_ref), recipient=recipient_id,
                                    message=message, source=source, client_ref=client_ref,
                                    turn_digest=self.turn_digest)
                    for message in messages]
        try:
            await asyncio.to_thread(outbox.enqueue, requests)
        except Exception as error:  # noqa: BLE001
            if in_guarded_turn():
                raise OutboxUnavailable(type(error).__name__) from error
            logger.exception("WhatsApp message to %s NOT STORED in the outbox",
                             hash_id(recipient_id))
            return
        if self._notify is not None:
            self._notify()
