"""The output channel: Rasa's responses as WhatsApp messages.

Also what Rasa's HTTP API (``output_channel=whatsapp``) and the console use. A failed
send is logged and never raises into the Rasa turn.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa.core.channels.channel import OutputChannel

from channels.whatsapp import formatting as fmt
from channels.whatsapp.config import WhatsAppConfig, load_config
from channels.whatsapp.graph_client import GraphClient, SendResult
from channels.whatsapp.payloads import BUTTON_ID_MAX, LIST_ROW_ID_MAX, sign_payload
from channels.whatsapp.privacy import hash_id
from channels.whatsapp.replies import CHOOSE_OPTION, MENU_LABEL
from channels.whatsapp.window import is_window_open

logger = logging.getLogger(__name__)


class WhatsAppOutput(OutputChannel):
    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    def __init__(self, config: WhatsAppConfig, graph: GraphClient) -> None:
        self.config = config
        self.graph = graph
        self._templated: set[str] = set()  # recipients sent the template by this instance

    @classmethod
    def from_env(cls) -> WhatsAppOutput:
        """A standalone output channel (e.g. for the console) configured from the env."""
        config = load_config()
        return cls(config, GraphClient.from_config(config))

    # --- Rasa's send methods -------------------------------------------------------

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for chunk in fmt.split_text(text or ""):
            await self._deliver(recipient_id, {"type": "text", "text": {"body": chunk}})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        options = [b for b in buttons or [] if isinstance(b, dict) and b.get("title")]
        if not options:
            await self.send_text_message(recipient_id, text)
            return
        if len(options) > fmt.MAX_LIST_ROWS:
            numbered = "\n".join(f"{i}. {b['title']}" for i, b in enumerate(options, 1))
            await self.send_text_message(recipient_id, f"{text or ''}\n\n{numbered}")
            return
        body = (text or "").strip()
        if len(body) > fmt.INTERACTIVE_BODY_LIMIT:
            await self.send_text_message(recipient_id, body)
            body = ""
        body = body or CHOOSE_OPTION
        if len(options) <= fmt.MAX_BUTTONS:
            interactive = self._reply_buttons(recipient_id, body, options)
        else:
            label = fmt.shorten(kwargs.get("button_label") or MENU_LABEL, fmt.MENU_LABEL_LIMIT)
            interactive = self._list(recipient_id, body, options, label)
        await self._deliver(recipient_id, {"type": "interactive", "interactive": interactive})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._deliver(recipient_id, {"type": "image", "image": {"link": image}})

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
        await self._deliver(recipient_id, message)

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

    def _template_message(self) -> dict[str, Any]:
        return {"type": "template", "template": {
            "name": self.config.template_name,
            "language": {"code": self.config.template_language}}}

    async def _window_open(self, recipient_id: str) -> bool:
        try:
            return await asyncio.to_thread(is_window_open, recipient_id)
        except Exception:  # noqa: BLE001 - if unsure, try: Meta refuses with 131047
            logger.exception("could not read the 24-hour window; sending anyway")
            return True

    async def _deliver(self, recipient_id: str, message: dict[str, Any]) -> SendResult | None:
        """Send one message object, respecting the 24-hour window. Never raises."""
        ref = hash_id(recipient_id)
        try:
            if message.get("type") != "template" and not await self._window_open(recipient_id):
                if not self.config.template_name:
                    logger.warning("WhatsApp %s message to %s NOT SENT: more than 24 hours "
                                   "since the user's last message and WHATSAPP_TEMPLATE_NAME "
                                   "is not set", message.get("type"), ref)
                    return None
                if recipient_id in self._templated:
                    logger.info("WhatsApp %s message to %s dropped: window closed, template "
                                "already sent", message.get("type"), ref)
                    return None
                logger.info("24-hour window closed for %s: sending template instead", ref)
                self._templated.add(recipient_id)
                message = self._template_message()
            envelope = {**message, "messaging_product": "whatsapp",
                        "recipient_type": "individual", "to": recipient_id}
            return await self.graph.send(envelope, recipient=recipient_id)
        except Exception:  # noqa: BLE001 - a failed send must never crash the turn
            logger.exception("WhatsApp send to %s failed unexpectedly", ref)
            return None
