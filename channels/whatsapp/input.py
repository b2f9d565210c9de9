"""The input channel: Meta's webhook at ``/webhooks/whatsapp/webhook``.

POST: check the size and the signature of the raw body, parse it, store every item in the
inbox in one durable transaction (inbox.py; concurrent webhooks share it: group_commit.py),
and only then answer 200 — a 200 is a promise, Meta never
sends that message again. The Rasa turns run from the inbox (worker.py), the replies leave
through the outbox (sender.py).

Answers: 401/403 for a missing or wrong signature (nothing is stored); 413 from Sanic for a
body over 1 MB (the channel lowers the server's REQUEST_MAX_SIZE, 100 MB by default, so such
a body is refused before it is buffered); 400 for a body that is not JSON; 503 if the
database cannot store it (Meta delivers it again later); 200 for everything else that is
signed, including items we cannot use (recorded as skipped).

Also: ``GET /webhooks/whatsapp/`` (alive) and ``GET /webhooks/whatsapp/ready`` (readiness.py).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.whatsapp import readiness
from channels.whatsapp.config import WhatsAppConfig, load_config
from channels.whatsapp.graph_client import GraphClient
from channels.whatsapp.group_commit import GroupCommitter
from channels.whatsapp.inbound import ParsedUpdate, parse_update
from channels.whatsapp.inbox import store_updates
from channels.whatsapp.output import WhatsAppOutput
from channels.whatsapp.runtime import ChannelRuntime
from channels.whatsapp.signature import HEADER, verify_signature
from channels.whatsapp.worker import OnNewMessage

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
# The whole server's (Rasa's) request limit: Meta's webhooks and Rasa's API calls are small.
REQUEST_MAX_BYTES = 1_048_576
WEBHOOK_DB_THREADS = 2  # webhook writes (one batch at a time) and readiness checks


def _bad_request(reason: str) -> HTTPResponse:
    return response.json({"error": reason}, status=400)


def limit_request_size(app: Any, limit: int = REQUEST_MAX_BYTES) -> None:
    """Lower the server's body limit to ``limit`` (never raise it); Sanic reads it for each
    new connection and answers 413 without buffering more."""
    current = int(getattr(app.config, "REQUEST_MAX_SIZE", limit) or limit)
    app.config.REQUEST_MAX_SIZE = min(current, limit)


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
        self._receiving = 0  # webhooks being stored right now
        self._db = ThreadPoolExecutor(WEBHOOK_DB_THREADS, thread_name_prefix="whatsapp-inbox")
        self._writes = GroupCommitter(self._db, store_updates)
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
            token = request.args.get("hub.verify_token") or ""
            if request.args.get("hub.mode") == "subscribe" and hmac.compare_digest(
                token.encode("utf-8"), self.config.verify_token.encode("utf-8")
            ):
                return response.text(request.args.get("hub.challenge") or "")
            logger.warning("WhatsApp webhook verification refused (wrong mode or token)")
            return response.text("forbidden", status=403)

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self._receive(request)

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
                                          receiving=lambda: self._receiving > 0)
            await self.runtime.start()
        return self.runtime

    async def stop(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop()
            self.runtime = None
        await self.graph.aclose()

    async def readiness(self, agent: Any) -> readiness.Readiness:
        loop = asyncio.get_running_loop()
        database_ok = await loop.run_in_executor(self._db, readiness.database_answers)
        running = self.runtime is not None and self.runtime.running
        return readiness.check(agent, database_ok, running)

    # --- the webhook -----------------------------------------------------------------------

    async def _receive(self, request: Request) -> HTTPResponse:
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
        update = parse_update(data, self.config.phone_number_id)
        self._receiving += 1
        try:
            await self._writes.store(update)
        except Exception:  # noqa: BLE001 - no 200 without the promise: Meta will retry
            logger.exception("WhatsApp webhook NOT STORED; answering 503 so Meta retries")
            return response.json({"error": "not stored"}, status=503)
        finally:
            self._receiving -= 1
        self._log_skipped(update)
        if update.messages and self.runtime is not None:
            self.runtime.worker.nudge()
        return response.json({"status": "ok"})

    @staticmethod
    def _log_skipped(update: ParsedUpdate) -> None:
        if update.events:
            kinds = Counter(f"{e.kind.value}" + (f"({e.detail})" if e.detail else "")
                            for e in update.events)
            logger.info("WhatsApp webhook: recorded without a turn: %s",
                        ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())))
