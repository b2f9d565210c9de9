"""The input channel: Meta's webhook at ``/webhooks/whatsapp/webhook`` inside Rasa.

The webhook itself (signature, parsing, the durable store before the 200, the answers) is
webhook.py, shared with the receiver process of the production topology (receiver.py). The
Rasa turns run from the inbox (worker.py), the replies leave through the outbox (sender.py);
a receiver elsewhere tells this instance about new messages with a datagram (nudge.py,
``WHATSAPP_NUDGE_LISTEN``).

Also: ``GET /webhooks/whatsapp/`` (alive) and ``GET /webhooks/whatsapp/ready`` (readiness.py).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.whatsapp import readiness
from channels.whatsapp.config import WhatsAppConfig, load_config
from channels.whatsapp.graph_client import GraphClient
from channels.whatsapp.inbound import ParsedUpdate
from channels.whatsapp.output import WhatsAppOutput
from channels.whatsapp.runtime import ChannelRuntime
from channels.whatsapp.webhook import WebhookEndpoint, limit_request_size
from channels.whatsapp.worker import OnNewMessage

logger = logging.getLogger(__name__)


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
        self.runtime: ChannelRuntime | None = None
        self.webhook = WebhookEndpoint(self.config, self._stored)
        if self.config.sandbox:
            logger.info("WhatsApp channel in sandbox mode (simulator at %s)", self.config.api_url)

    def get_output_channel(self) -> WhatsAppOutput:
        """For Rasa's HTTP API (console replies, escalation messages): stores in the outbox."""
        if self.runtime is not None:
            return self.runtime.output_for(None)
        return WhatsAppOutput(self.config, self.graph)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        bp = Blueprint("whatsapp_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/ready", methods=["GET"])
        async def ready(request: Request) -> HTTPResponse:
            state = await self.readiness(getattr(request.app.ctx, "agent", None))
            return response.json(state.as_json(), status=200 if state.ready else 503)

        @bp.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            return self.webhook.verify(request)

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self.webhook.receive(request)

        @bp.listener("before_server_start")
        async def _limit(app: Any, _loop: Any) -> None:
            limit_request_size(app)

        @bp.listener("after_server_start")
        async def _start(app: Any, _loop: Any) -> None:
            await self.start(on_new_message, getattr(app.ctx, "agent", None))

        @bp.listener("before_server_stop")
        async def _stop(_app: Any, _loop: Any) -> None:
            await self.stop()

        return bp

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self, on_new_message: OnNewMessage, agent: Any = None) -> ChannelRuntime:
        if self.runtime is None:
            self.runtime = ChannelRuntime(self.config, self.graph, on_new_message, agent,
                                          receiving=lambda: self.webhook.receiving > 0)
            await self.runtime.start()
        return self.runtime

    async def stop(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop()
            self.runtime = None
        await self.graph.aclose()

    async def readiness(self, agent: Any) -> readiness.Readiness:
        database_ok = await self.webhook.database_answers()
        running = self.runtime is not None and self.runtime.running
        return readiness.check(agent, database_ok, running)

    def _stored(self, _update: ParsedUpdate) -> None:
        if self.runtime is not None:
            self.runtime.worker.nudge()
