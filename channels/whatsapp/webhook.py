"""Meta's webhook, one implementation for both places it is served: inside Rasa (input.py)
and in the receiver process of the production topology (receiver.py).

POST: check the size and the signature of the raw body, parse it, store every item in the
inbox in one durable transaction (inbox.py; concurrent webhooks share it: group_commit.py),
and only then answer 200 — a 200 is a promise, Meta never sends that message again. Then
``on_stored`` tells a worker that there is work (inside Rasa: its own worker; in the
receiver: a datagram to a Rasa instance, nudge.py).

Answers: 401/403 for a missing or wrong signature (nothing is stored); 413 from Sanic for a
body over 1 MB (the server's REQUEST_MAX_SIZE is lowered, 100 MB by default, so such a body
is refused before it is buffered); 400 for a body that is not JSON; 503 if the database
cannot store it (Meta delivers it again later); 200 for everything else that is signed,
including items we cannot use (recorded as skipped).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.whatsapp import readiness
from channels.whatsapp.config import WhatsAppConfig
from channels.whatsapp.group_commit import GroupCommitter
from channels.whatsapp.inbound import ParsedUpdate, parse_update
from channels.whatsapp.inbox import store_updates
from channels.whatsapp.signature import HEADER, verify_signature

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
# The whole server's request limit: Meta's webhooks and Rasa's API calls are small.
REQUEST_MAX_BYTES = 1_048_576
WEBHOOK_DB_THREADS = 2  # webhook writes (one batch at a time) and readiness checks


def _bad_request(reason: str) -> HTTPResponse:
    return response.json({"error": reason}, status=400)


def limit_request_size(app: Any, limit: int = REQUEST_MAX_BYTES) -> None:
    """Lower the server's body limit to ``limit`` (never raise it); Sanic reads it for each
    new connection and answers 413 without buffering more."""
    current = int(getattr(app.config, "REQUEST_MAX_SIZE", limit) or limit)
    app.config.REQUEST_MAX_SIZE = min(current, limit)


class WebhookEndpoint:
    """The webhook's handlers; ``on_stored(update)`` runs after each stored update."""

    def __init__(self, config: WhatsAppConfig,
                 on_stored: Callable[[ParsedUpdate], None] = lambda _: None) -> None:
        self.config = config
        self.on_stored = on_stored
        self.receiving = 0  # webhooks being stored right now
        self.database = ThreadPoolExecutor(WEBHOOK_DB_THREADS,
                                           thread_name_prefix="whatsapp-inbox")
        self._writes = GroupCommitter(self.database, store_updates)

    def verify(self, request: Request) -> HTTPResponse:
        """Meta's subscription check (GET with hub.mode, hub.verify_token, hub.challenge)."""
        token = request.args.get("hub.verify_token") or ""
        if request.args.get("hub.mode") == "subscribe" and hmac.compare_digest(
            token.encode("utf-8"), self.config.verify_token.encode("utf-8")
        ):
            return response.text(request.args.get("hub.challenge") or "")
        logger.warning("WhatsApp webhook verification refused (wrong mode or token)")
        return response.text("forbidden", status=403)

    async def receive(self, request: Request) -> HTTPResponse:
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
        self.receiving += 1
        try:
            await self._writes.store(update)
        except Exception:  # noqa: BLE001 - no 200 without the promise: Meta will retry
            logger.exception("WhatsApp webhook NOT STORED; answering 503 so Meta retries")
            return response.json({"error": "not stored"}, status=503)
        finally:
            self.receiving -= 1
        _log_skipped(update)
        if update.messages:
            self.on_stored(update)
        return response.json({"status": "ok"})

    async def database_answers(self) -> bool:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.database, readiness.database_answers)

    def close(self) -> None:
        self.database.shutdown(wait=True)


def _log_skipped(update: ParsedUpdate) -> None:
    if update.events:
        kinds = Counter(f"{e.kind.value}" + (f"({e.detail})" if e.detail else "")
                        for e in update.events)
        logger.info("WhatsApp webhook: recorded without a turn: %s",
                    ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())))
