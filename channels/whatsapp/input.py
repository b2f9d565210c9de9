"""The input channel: Meta's webhook at ``/webhooks/whatsapp/webhook``.

POST: check the size and the signature of the raw body, parse, answer 200 at once,
then process each message in the background, in order per sender: claim its id,
record the user's last message time, mark it read, and hand it to Rasa.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.whatsapp.config import WhatsAppConfig, load_config
from channels.whatsapp.dedup import claim_message, prune_claims
from channels.whatsapp.dispatch import OrderedDispatcher
from channels.whatsapp.graph_client import GraphClient
from channels.whatsapp.inbound import InboundMessage, InboundStatus, MalformedUpdate, parse_update
from channels.whatsapp.output import WhatsAppOutput
from channels.whatsapp.privacy import hash_id
from channels.whatsapp.signature import HEADER, verify_signature
from channels.whatsapp.statuses import record_status
from channels.whatsapp.translate import to_rasa
from channels.whatsapp.window import record_user_message

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
READ_RECEIPT_WAIT = 0.5  # seconds a turn waits for the read receipt at most

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def _bad_request(reason: str) -> HTTPResponse:
    return response.json({"error": reason}, status=400)


class WhatsAppInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WhatsAppInput:
        if credentials:
            logger.warning("The whatsapp channel ignores credentials.yml values; "
                           "it reads the WHATSAPP_* environment variables.")
        return cls(load_config())

    def __init__(self, config: WhatsAppConfig | None = None,
                 graph: GraphClient | None = None) -> None:
        self.config = config or load_config()
        self.graph = graph or GraphClient.from_config(self.config)
        self.dispatcher: OrderedDispatcher[tuple[InboundMessage, OnNewMessage]] = (
            OrderedDispatcher(self._process)
        )
        if self.config.sandbox:
            logger.info("WhatsApp channel in sandbox mode (simulator at %s)", self.config.api_url)

    def get_output_channel(self) -> WhatsAppOutput:
        return WhatsAppOutput(self.config, self.graph)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        bp = Blueprint("whatsapp_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            token = request.args.get("hub.verify_token") or ""
            if request.args.get("hub.mode") == "subscribe" and hmac.compare_digest(
                token.encode("utf-8"), self.config.verify_token.encode("utf-8")
            ):
                return response.text(request.args.get("hub.challenge") or "")
            logger.warning("WhatsApp webhook verification refused (wrong mode or token)")
            return response.text("forbidden", status=403)

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return self._receive(request, on_new_message)

        @bp.listener("after_server_start")
        async def _prune(_app: Any, _loop: Any) -> None:
            self.dispatcher.spawn(self._prune_claims())

        @bp.listener("before_server_stop")
        async def _close(_app: Any, _loop: Any) -> None:
            await self.graph.aclose()

        return bp

    def _receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        body = request.body or b""
        if len(body) > MAX_BODY_BYTES:
            return _bad_request("body larger than 1 MB")
        signature = request.headers.get(HEADER)
        if not signature:
            logger.warning("WhatsApp webhook without signature refused")
            return response.json({"error": "missing signature"}, status=401)
        if not verify_signature(body, signature, self.config.app_secret):
            logger.warning("WhatsApp webhook with a wrong signature refused")
            return response.json({"error": "invalid signature"}, status=403)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return _bad_request("body is not valid JSON")
        try:
            update = parse_update(data, self.config.phone_number_id)
        except MalformedUpdate as exc:
            logger.warning("WhatsApp webhook refused: %s", exc)
            return _bad_request(str(exc))
        if update.skipped:
            logger.warning("WhatsApp webhook: skipped %d unusable item(s): %s",
                           len(update.skipped), "; ".join(update.skipped[:5]))
        for status in update.statuses:
            self.dispatcher.spawn(self._record_status(status))
        for message in update.messages:
            self.dispatcher.submit(message.sender, (message, on_new_message))
        return response.json({"status": "ok"})

    async def _process(self, item: tuple[InboundMessage, OnNewMessage]) -> None:
        message, on_new_message = item
        rasa_input = to_rasa(message, self.config.app_secret)
        if rasa_input is None:
            return  # reactions
        ref = hash_id(message.sender)
        try:
            claimed = await asyncio.to_thread(claim_message, message.message_id)
        except Exception:  # noqa: BLE001 - better a rare duplicate than a lost message
            logger.exception("could not claim a message id; processing it anyway")
            claimed = True
        if not claimed:
            logger.info("WhatsApp redelivery of %s from %s dropped",
                        hash_id(message.message_id), ref)
            return
        sent_at = min(float(message.timestamp), time.time())
        try:
            await asyncio.to_thread(record_user_message, message.sender, sent_at)
        except Exception:  # noqa: BLE001
            logger.exception("could not record the last message time of %s", ref)
        read = self.dispatcher.spawn(self.graph.mark_read(message.message_id))
        await asyncio.wait({read}, timeout=READ_RECEIPT_WAIT)
        output = self.get_output_channel()
        if rasa_input.auto_reply:
            await output.send_text_message(message.sender, rasa_input.auto_reply)
        await on_new_message(UserMessage(
            text=rasa_input.text,
            output_channel=output,
            sender_id=message.sender,
            input_channel=self.name(),
            message_id=message.message_id,
            metadata=rasa_input.metadata,
        ))

    @staticmethod
    async def _record_status(status: InboundStatus) -> None:
        try:
            await asyncio.to_thread(record_status, status)
        except Exception:  # noqa: BLE001
            logger.exception("could not record a WhatsApp status")

    @staticmethod
    async def _prune_claims() -> None:
        try:
            removed = await asyncio.to_thread(prune_claims)
            if removed:
                logger.info("forgot %d old WhatsApp message ids", removed)
        except Exception:  # noqa: BLE001
            logger.exception("could not prune old WhatsApp message ids")
