"""Escalation while a conversation waits for (or talks with) a specialist.

While handed off, the conversation is paused: Rasa parses and stores every
message but runs no action. This event broker sees every new event when the
tracker is saved. When a paused conversation gets an emergency-level message,
it moves her ticket to the top of the queue and sends her the emergency lines
through Rasa's own HTTP API (the conversation stays paused).

endpoints.yml::

    event_broker:
      type: handoff.escalation.EscalationBroker

Env: RASA_URL (default http://127.0.0.1:5005), RASA_API_TOKEN, DATABASE_URL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from asyncio import AbstractEventLoop
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from handoff.queue import HandoffQueue
from handoff.stats import record_contact_safely
from store.privacy import log_id
from triage.levels import TriageMap, load_triage_map

logger = logging.getLogger(__name__)
# httpx logs every request URL at INFO: ours carry the phone number and the API token.
logging.getLogger("httpx").setLevel(logging.WARNING)

DEFAULT_RASA_URL = "http://127.0.0.1:5005"

EMERGENCY_TEXT = (
    "Si estás en peligro ahora, llama al 133 (Carabineros). "
    "También: 149 (Fono Familia) y 1455 (orientación, gratis). "
    "Ya avisé a una especialista y te responderá lo antes posible."
)


# When a specialist already holds the case she is not told that someone was alerted again.
EMERGENCY_TEXT_ASSIGNED = (
    "Si estás en peligro ahora, llama al 133 (Carabineros). "
    "También: 149 (Fono Familia) y 1455 (orientación, gratis)."
)

QUICK_EXIT_INTENT = "salir"
QUICK_EXIT_TEXT = "Hasta luego. Para borrar este chat, mantenlo presionado y toca «Eliminar»."


hash_id = log_id


def emergency_intent(parse_data: dict[str, Any], triage_map: TriageMap) -> str | None:
    """The emergency intent of a parsed message (the project's triage reading), else None."""
    reading = triage_map.reading_of(parse_data)
    if reading.level != "emergency":
        return None
    return str(reading.intent or "triage")


class EscalationBroker(EventBroker):
    """Escalates handed-off conversations on emergency messages. Never raises into Rasa."""

    def __init__(
        self,
        rasa_url: str | None = None,
        token: str | None = None,
        queue_factory: Callable[[], HandoffQueue] = HandoffQueue.from_env,
        triage_file: Path | str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        resend_cooldown_seconds: float = 120.0,
        retries: int = 3,
    ) -> None:
        self.rasa_url = (rasa_url or os.environ.get("RASA_URL") or DEFAULT_RASA_URL).rstrip("/")
        self.token = token if token is not None else os.environ.get("RASA_API_TOKEN", "")
        self._queue_factory = queue_factory
        self._queue: HandoffQueue | None = None
        self._transport = transport
        self._cooldown = resend_cooldown_seconds
        self._retries = retries
        self._last_sent: dict[str, float] = {}
        # user events waiting to see whether the bot acts on them in the same save
        self._pending: dict[str, dict[str, Any]] = {}
        self._tasks: set[asyncio.Task] = set()
        try:
            self._triage: TriageMap = load_triage_map(triage_file)
        except Exception:  # noqa: BLE001 - a broken file must not stop Rasa
            logger.exception("Could not read the triage file; using parse_data['triage'] only.")
            self._triage = TriageMap(rules={})

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig | None, event_loop: AbstractEventLoop | None = None
    ) -> EscalationBroker:
        kwargs = dict(broker_config.kwargs) if broker_config else {}
        return cls(
            rasa_url=kwargs.get("rasa_url") or (broker_config.url if broker_config else None),
            triage_file=kwargs.get("triage_file"),
        )

    @property
    def queue(self) -> HandoffQueue:
        if self._queue is None:
            self._queue = self._queue_factory()
        return self._queue

    # ---------------------------------------------------------------- publish
    def publish(self, event: dict[str, Any]) -> None:
        """Called by the tracker store for every new event, in order, once per save.

        A paused conversation's user message is saved without any action after it.
        So an emergency user event is only acted on if no ``action`` event follows
        it in the same save (otherwise the bot itself answered it).
        """
        try:
            self._publish(event)
        except Exception:  # noqa: BLE001 - never raise into Rasa
            logger.exception("Escalation broker failed on an event; continuing.")

    def _publish(self, event: dict[str, Any]) -> None:
        sender = event.get("sender_id")
        kind = event.get("event")
        if not sender:
            return
        if kind == "action":
            self._pending.pop(sender, None)
            return
        if kind == "session_started":
            self._count_conversation(sender)
            return
        if kind != "user":
            return
        parse_data = event.get("parse_data") or {}
        intent = emergency_intent(parse_data, self._triage)
        response = "emergency"
        if intent is None and (parse_data.get("intent") or {}).get("name") == QUICK_EXIT_INTENT:
            intent, response = QUICK_EXIT_INTENT, "quick_exit"
        if intent is None:
            return
        self._pending[sender] = {"intent": intent, "response": response}
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            # the rest of this save's events are published synchronously before this runs
            loop.call_soon(self._decide, sender)
        else:
            # no loop (scripts): decide now, in a background thread
            self._pending.pop(sender, None)
            threading.Thread(
                target=asyncio.run, args=(self._act(sender, intent, response),), daemon=True
            ).start()

    @staticmethod
    def _count_conversation(sender: str) -> None:
        """A new Rasa session: one anonymous contact row for the reports (handoff/stats.py)."""
        try:
            asyncio.get_running_loop().run_in_executor(None, record_contact_safely, sender)
        except RuntimeError:  # no loop (scripts): nothing to count
            pass

    def _decide(self, sender: str) -> None:
        pending = self._pending.pop(sender, None)
        if pending is None:
            return
        task = asyncio.get_running_loop().create_task(
            self._act(sender, pending["intent"], pending["response"]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _act(self, sender: str, intent: str, response: str) -> None:
        if response == "quick_exit":
            await self._quick_exit(sender)
        else:
            await self._escalate(sender, intent)

    async def _quick_exit(self, sender: str) -> None:
        """«salir» while waiting: the neutral goodbye at once; the ticket stays for the team."""
        try:
            loop = asyncio.get_running_loop()
            ticket = await loop.run_in_executor(None, self.queue.open_ticket_for, sender)
            if ticket is None:
                return
            if await self._send_bot_text(sender, QUICK_EXIT_TEXT, "handoff_quick_exit"):
                await loop.run_in_executor(
                    None, lambda: self.queue.audit("quick_exit_while_waiting", ticket_id=ticket.id)
                )
        except Exception:  # noqa: BLE001
            logger.exception("Quick exit failed for conversation %s.", hash_id(sender))

    async def _escalate(self, sender: str, intent: str) -> None:
        who = hash_id(sender)
        try:
            loop = asyncio.get_running_loop()
            ticket = await loop.run_in_executor(
                None, self.queue.escalate, sender, f"Emergencia durante la derivación ({intent})"
            )
            if ticket is None:
                return
            logger.warning("Escalated ticket %s (conversation %s) to emergency.", ticket.id, who)
            now = time.monotonic()
            if now - self._last_sent.get(sender, -1e9) < self._cooldown:
                return
            self._last_sent[sender] = now
            text = EMERGENCY_TEXT_ASSIGNED if ticket.status == "assigned" else EMERGENCY_TEXT
            if await self._send_bot_text(sender, text, "handoff_escalation"):
                await loop.run_in_executor(
                    None, lambda: self.queue.audit(
                        "emergency_lines_sent", ticket_id=ticket.id, detail="escalation")
                )
        except Exception:  # noqa: BLE001
            logger.exception("Escalation failed for conversation %s.", who)

    async def _send_bot_text(self, sender: str, text: str, source: str) -> bool:
        url = f"{self.rasa_url}/conversations/{quote(sender, safe='')}/tracker/events"
        params = {"output_channel": "latest", "execute_side_effects": "true"}
        if self.token:
            params["token"] = self.token
        body = {"event": "bot", "text": text, "timestamp": time.time(),
                "metadata": {"source": source}}
        async with httpx.AsyncClient(transport=self._transport, timeout=15.0) as client:
            for attempt in range(1, self._retries + 1):
                try:
                    response = await client.post(url, params=params, json=body)
                    if response.status_code < 300:
                        return True
                    logger.error("Rasa refused the message: HTTP %s (conversation %s).",
                                 response.status_code, hash_id(sender))
                    if response.status_code < 500:
                        return False
                except httpx.HTTPError as error:
                    logger.error("Could not reach Rasa (%s), attempt %s (conversation %s).",
                                 type(error).__name__, attempt, hash_id(sender))
                if attempt < self._retries:
                    await asyncio.sleep(0.5 * attempt)
        return False

    async def drain(self) -> None:
        """Wait for scheduled escalations (tests, shutdown)."""
        await asyncio.sleep(0)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.drain(), timeout=10)
        except Exception:  # noqa: BLE001
            logger.exception("Escalation broker closed with work pending.")
