"""Escalation while a conversation waits for (or talks with) a specialist.

While handed off, the conversation is paused: Rasa parses and stores every message but runs
no action. This event broker sees every new event when the tracker is saved, and for a
paused conversation with an open ticket:

- an emergency-level message: the decision is written to ``handoff_escalations`` at once;
  a worker moves her ticket to the top, sends her the emergency lines and audits it; a sweep
  at Rasa startup and every minute finishes what a crash or a failed send left undone;
- «salir»: the quick-exit goodbye (the ticket stays open for the team);
- «Borrar mis datos» (the quick exit's button): the confirmation question; her «Sí» to it
  erases her data (``store/erasure.py``), her «No» leaves everything as it was;
- any other message while the ticket waits: a short acknowledgement, at most once every
  ``WAITING_ACK_SECONDS`` (default 180) per case.

Every text is a response of domain.yml, sent through Rasa's HTTP API as a bot event on the
conversation's latest channel (``send_response``), so the dialogue state is not changed.

endpoints.yml::

    event_broker:
      type: handoff.escalation.EscalationBroker

Env: RASA_URL (default http://127.0.0.1:5005), RASA_API_TOKEN, DATABASE_URL, WAITING_ACK_SECONDS.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from asyncio import AbstractEventLoop
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from handoff.escalation_log import EscalationLog, Kind, Outcome
from handoff.queue import HandoffQueue
from handoff.rasa_api import RasaError
from handoff.rasa_responses import RasaResponses
from handoff.states import TicketStatus
from handoff.stats import record_contact_safely
from store.erasure import ErasureSource, erase
from store.privacy import log_id
from training.capture import consider as consider_for_review
from triage.levels import TriageMap, load_triage_map

logger = logging.getLogger(__name__)

QUICK_EXIT_INTENT = "salir"
ERASE_INTENT = "borrar_datos"  # «Borrar mis datos», the quick exit's button
ANSWER_INTENTS = ("afirmar", "negar")
RESPONSE_ERASE_ASK = "utter_confirmar_borrado"
RESPONSE_ERASED = "utter_datos_borrados"
RESPONSE_ERASE_CANCELLED = "utter_borrado_cancelado"
MEDIA_INTENT = "medio_no_soportado"  # a voice note, photo or file: the channel cannot read it
RESPONSE_QUICK_EXIT = "utter_salir"
RESPONSE_WAITING = "utter_en_espera"
RESPONSE_MEDIA = "utter_solo_texto"
RESPONSE_EMERGENCY = "utter_emergencia_en_espera"
RESPONSE_EMERGENCY_ASSIGNED = "utter_emergencia_con_especialista"
SWEEP_EVERY_SECONDS = 60.0
SWEEP_GRACE_SECONDS = 10.0  # the live worker handles fresh decisions
MAX_ATTEMPTS = 10
DEFAULT_ACK_SECONDS = 180.0

hash_id = log_id


def emergency_intent(parse_data: dict[str, Any], triage_map: TriageMap) -> str | None:
    """The emergency intent of a parsed message (the project's triage reading), else None."""
    reading = triage_map.reading_of(parse_data)
    if reading.level != "emergency":
        return None
    return str(reading.intent or "triage")


def _kind_of(parse_data: dict[str, Any], triage: TriageMap) -> tuple[str, str | None] | None:
    """(what to do, intent) for a user message if its conversation turns out to be paused."""
    intent = emergency_intent(parse_data, triage)
    if intent is not None:
        return "emergency", intent
    name = (parse_data.get("intent") or {}).get("name")
    if name == QUICK_EXIT_INTENT:
        return "quick_exit", name
    if name == ERASE_INTENT:
        return "erase_ask", name
    if name in ANSWER_INTENTS:
        return "answer", name
    return "waiting", name


class EscalationBroker(EventBroker):
    """Acts on messages of handed-off conversations. Never raises into Rasa."""

    def __init__(
        self,
        rasa_url: str | None = None,
        token: str | None = None,
        queue_factory: Callable[[], HandoffQueue] = HandoffQueue.from_env,
        triage_file: Path | str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        resend_cooldown_seconds: float = 120.0,
        retries: int = 3,
        ack_cooldown_seconds: float | None = None,
    ) -> None:
        self.rasa = RasaResponses(rasa_url, token, transport=transport, retries=retries)
        self._queue_factory = queue_factory
        self._queue: HandoffQueue | None = None
        self._log: EscalationLog | None = None
        self._cooldown = resend_cooldown_seconds
        self._ack_cooldown = ack_cooldown_seconds if ack_cooldown_seconds is not None else float(
            os.environ.get("WAITING_ACK_SECONDS") or DEFAULT_ACK_SECONDS)
        # user events waiting to see whether the bot acts on them in the same save
        self._pending: dict[str, tuple[str, str | None]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._sweeper: asyncio.Task | None = None
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
        broker = cls(
            rasa_url=kwargs.get("rasa_url") or (broker_config.url if broker_config else None),
            triage_file=kwargs.get("triage_file"),
        )
        broker.start_sweeper()
        return broker

    @property
    def queue(self) -> HandoffQueue:
        if self._queue is None:
            self._queue = self._queue_factory()
        return self._queue

    @property
    def log(self) -> EscalationLog:
        if self._log is None:
            self._log = EscalationLog(self.queue.engine)
        return self._log

    # ---------------------------------------------------------------- publish
    def publish(self, event: dict[str, Any]) -> None:
        """Called by the tracker store for every new event, in order, once per save.

        A paused conversation's user message is saved without any action after it, so a
        user event is only acted on if no ``action`` event follows it in the same save.
        """
        try:
            self._publish(event)
        except Exception:  # noqa: BLE001 - never raise into Rasa
            logger.exception("Escalation broker failed on an event; continuing.")
        # the trainers' review queue: decides in microseconds, stores in its own thread
        consider_for_review(event)

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
        decision = _kind_of(event.get("parse_data") or {}, self._triage)
        if decision is None:
            self._pending.pop(sender, None)
            return
        self._pending[sender] = decision
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            # the rest of this save's events are published synchronously before this runs
            loop.call_soon(self._decide, sender)
        else:  # no loop (scripts): decide now, in a background thread
            self._pending.pop(sender, None)
            threading.Thread(target=asyncio.run, args=(self._act(sender, *decision),),
                             daemon=True).start()

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
        try:
            decision_id = self._record_emergency(sender, pending[1]) if (
                pending[0] == "emergency") else None
        except Exception:  # noqa: BLE001 - still try to act now
            logger.exception("Could not record the escalation of %s.", hash_id(sender))
            decision_id = None
        work = self.process(decision_id) if decision_id else self._act(sender, *pending)
        self._spawn(work)

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _record_emergency(self, sender: str, intent: str | None) -> int | None:
        """Write the decision before anything is sent (a crash after this is swept up)."""
        ticket = self.queue.open_ticket_for(sender)
        if ticket is None:
            return None
        return self.log.record(Kind.EMERGENCY, ticket.id, intent).id

    async def _act(self, sender: str, what: str, intent: str | None) -> None:
        try:
            if what == "quick_exit":
                await self._quick_exit(sender)
            elif what == "erase_ask":
                await self.rasa.send_response(sender, RESPONSE_ERASE_ASK, "handoff_erasure")
            elif what == "answer" and await self._asked_to_erase(sender):
                await self._erase_answer(sender, intent)
            elif what in ("waiting", "answer"):
                await self._acknowledge(sender, RESPONSE_MEDIA if intent == MEDIA_INTENT
                                        else RESPONSE_WAITING)
            else:  # an emergency that could not be recorded: act at once all the same
                ticket = await asyncio.to_thread(self.queue.open_ticket_for, sender)
                if ticket is not None:
                    decision = await asyncio.to_thread(self.log.record, Kind.EMERGENCY,
                                                       ticket.id, intent)
                    await self.process(decision.id)
        except Exception:  # noqa: BLE001
            logger.exception("Escalation broker could not act for %s.", hash_id(sender))

    # ------------------------------------------------------------ the answers
    async def _quick_exit(self, sender: str) -> None:
        """«salir» while waiting: the neutral goodbye at once; the ticket stays for the team."""
        ticket = await asyncio.to_thread(self.queue.open_ticket_for, sender)
        if ticket is None:
            return
        if await self.rasa.send_response(sender, RESPONSE_QUICK_EXIT, "handoff_quick_exit"):
            await asyncio.to_thread(self.queue.audit, "quick_exit_while_waiting", None, ticket.id)

    async def _asked_to_erase(self, sender: str) -> bool:
        """Was the bot's last message before her answer «¿Borro esta conversación…?»"""
        try:
            events = (await self.rasa.api.tracker(sender)).get("events") or []
        except RasaError:
            return False
        users = 0
        for event in reversed(events):
            if event.get("event") == "user":
                users += 1
                if users > 1:
                    return False
            elif event.get("event") == "bot":
                return (event.get("metadata") or {}).get("utter_action") == RESPONSE_ERASE_ASK
        return False

    async def _erase_answer(self, sender: str, intent: str | None) -> None:
        """«Borrar mis datos» while she waits: the answer first, then the erasure (her tracker
        goes after this turn, under her lock: store/erasure.py)."""
        if intent != "afirmar":
            await self.rasa.send_response(sender, RESPONSE_ERASE_CANCELLED, "handoff_erasure")
            return
        await self.rasa.send_response(sender, RESPONSE_ERASED, "handoff_erasure")
        await asyncio.to_thread(erase, sender, ErasureSource.SHE, None, self.queue)

    async def _acknowledge(self, sender: str, response: str) -> None:
        """«Recibí tu mensaje» (or, for media, «solo puedo leer texto») while the ticket waits;
        at most one acknowledgement per cooldown per case."""
        lock = self._locks.setdefault(sender, asyncio.Lock())
        async with lock:
            ticket = await asyncio.to_thread(self.queue.open_ticket_for, sender)
            if ticket is None or ticket.status != "waiting":
                return
            recent = await asyncio.to_thread(self.log.sent_within, ticket.id,
                                             Kind.ACKNOWLEDGEMENT, Outcome.SENT, self._ack_cooldown)
            if recent:
                return
            if await self.rasa.send_response(sender, response, "handoff_waiting"):
                await asyncio.to_thread(self.log.record, Kind.ACKNOWLEDGEMENT, ticket.id,
                                        None, Outcome.SENT)
        if not lock.locked():
            self._locks.pop(sender, None)

    async def process(self, decision_id: int) -> None:
        """Escalate one recorded decision: ticket to the top, emergency lines, audit."""
        decision = await asyncio.to_thread(self.log.claim, decision_id)
        if decision is None:
            return  # finished or being processed elsewhere
        try:
            outcome = await self._escalate(decision.ticket_id, decision.intent)
        except Exception:  # noqa: BLE001
            logger.exception("Escalation %s failed; it will be retried.", decision_id)
            outcome = None
        if outcome is not None:
            await asyncio.to_thread(self.log.finish, decision_id, outcome)
            return
        attempts = await asyncio.to_thread(self.log.release, decision_id)
        if attempts >= MAX_ATTEMPTS:
            await asyncio.to_thread(self.log.finish, decision_id, Outcome.FAILED)
            logger.critical("EMERGENCY LINES NOT SENT for ticket %s after %s attempts.",
                            decision.ticket_id, attempts)

    async def _escalate(self, ticket_id: int, intent: str | None) -> Outcome | None:
        """The outcome, or None when the lines could not be sent (to be retried)."""
        ticket = await asyncio.to_thread(self.queue.get, ticket_id)
        if ticket is None or ticket.status == TicketStatus.CLOSED:
            return Outcome.TICKET_CLOSED
        reason = f"Emergencia durante la derivación ({intent or 'triage'})"
        ticket = await asyncio.to_thread(self.queue.escalate, ticket.conversation_id, reason)
        if ticket is None:
            return Outcome.TICKET_CLOSED
        logger.warning("Escalated ticket %s to emergency.", ticket.id)
        recent = await asyncio.to_thread(self.log.sent_within, ticket.id, Kind.EMERGENCY,
                                         Outcome.LINES_SENT, self._cooldown)
        if recent:
            return Outcome.ESCALATED
        response = RESPONSE_EMERGENCY_ASSIGNED if ticket.status == TicketStatus.ASSIGNED else RESPONSE_EMERGENCY
        if not await self.rasa.send_response(ticket.conversation_id, response,
                                             "handoff_escalation"):
            return None
        await asyncio.to_thread(self.queue.audit, "emergency_lines_sent", None, ticket.id,
                                "escalation")
        return Outcome.LINES_SENT

    # ------------------------------------------------------------ the sweep
    async def sweep(self, grace_seconds: float = SWEEP_GRACE_SECONDS) -> int:
        """Process every decision nobody finished; returns how many were looked at."""
        pending = await asyncio.to_thread(self.log.unprocessed, grace_seconds)
        for decision_id in pending:
            await self.process(decision_id)
        return len(pending)

    def start_sweeper(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._sweeper = loop.create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            try:
                found = await self.sweep()
                if found:
                    logger.warning("Escalation sweep processed %s pending decision(s).", found)
            except Exception:  # noqa: BLE001
                logger.exception("Escalation sweep failed; next one in a minute.")
            await asyncio.sleep(SWEEP_EVERY_SECONDS)

    async def drain(self) -> None:
        """Wait for scheduled work (tests, shutdown)."""
        await asyncio.sleep(0)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        try:
            await asyncio.wait_for(self.drain(), timeout=10)
        except Exception:  # noqa: BLE001
            logger.exception("Escalation broker closed with work pending.")
        await self.rasa.aclose()
