"""Did the specialist's message leave? The console's one adapter to the channel's outbox.

The console sends a message by posting a ``bot`` event to Rasa (``execute_side_effects``):
Rasa hands it to the WhatsApp output channel. Rasa's HTTP answer only says that Rasa took the
event; whether WhatsApp accepted it is known to the channel. So the console never says
«Mensaje enviado» on Rasa's word alone.

How it knows (the channel's outbox, ``channels/whatsapp/outbox.py``):

- The console puts a fresh reference in the bot event's metadata: ``{"client_ref": ref}``.
  Rasa passes bot-event metadata to the output channel as keyword arguments, and the outbox
  stores the reference with each outbound row it creates for that message (a long text may
  become several rows); a retried call with the same reference is stored once.
- ``ChannelOutbox.states_for(conversation_id, ref)`` returns those rows' states, oldest first,
  as ``OutboundState(state, error_code, meaning)`` with ``state`` one of ``pending``, ``sent``
  (Meta accepted it), ``delivered``, ``read``, ``failed`` (with Meta's code and the Spanish
  meaning from channels/whatsapp/errores_meta.yml, the one table of meanings), or an empty
  sequence if no row has that reference (yet). It blocks (database): the console calls it in
  its thread pool.
- ``Delivery(reader).report(conversation_id, ref)`` waits up to ``wait_seconds`` for the rows
  to leave ``pending`` and returns a ``DeliveryReport``; the console shows «No se envió:
  <meaning>» for a failure.

Without a reader (unit tests of the console alone), every report is ``ACCEPTED``: «Rasa
aceptó el mensaje; que llegó no se puede confirmar desde aquí».
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

logger = logging.getLogger(__name__)

REF_KEY = "client_ref"  # the key the channel's outbox stores (channels/whatsapp/output.py)


class DeliveryState(str, Enum):
    ACCEPTED = "accepted"  # Rasa took it for the channel; nothing known beyond that
    PENDING = "pending"  # in the outbox, not sent yet
    SENT = "sent"  # WhatsApp (Meta) accepted it
    DELIVERED = "delivered"  # on her phone
    READ = "read"
    NOT_SENT = "not_sent"  # failed, with Meta's code when there is one

    @property
    def left(self) -> bool:
        """Known to have left our side (Meta accepted it)."""
        return self in (DeliveryState.SENT, DeliveryState.DELIVERED, DeliveryState.READ)


@dataclass(frozen=True)
class OutboundState:
    state: str  # pending | sent | delivered | read | failed
    error_code: int | None = None
    meaning: str | None = None  # Spanish, when failed


@dataclass(frozen=True)
class DeliveryReport:
    state: DeliveryState
    error_code: int | None = None
    meaning: str | None = None


class OutboxReader(Protocol):
    def states_for(self, conversation_id: str, ref: str) -> Sequence[OutboundState]: ...


class ChannelOutbox:
    """The WhatsApp channel's outbox, as the console reads it."""

    def states_for(self, conversation_id: str, ref: str) -> list[OutboundState]:
        from channels.whatsapp.outbox import OutboxState, states_for

        rows = states_for(conversation_id, client_ref=ref)
        return [OutboundState(_state_name(row, OutboxState), row.error_code, row.meaning)
                for row in rows]


def _state_name(row, states) -> str:  # noqa: ANN001 - a channels.whatsapp.outbox.DeliveryState
    if row.state is states.FAILED:
        return "failed"
    if row.state is not states.SENT:
        return "pending"
    if row.read_at:
        return "read"
    return "delivered" if row.delivered_at else "sent"


_PROGRESS = {"sent": DeliveryState.SENT, "delivered": DeliveryState.DELIVERED,
             "read": DeliveryState.READ}  # in order


def summarise(states: Sequence[OutboundState]) -> DeliveryReport:
    """One report for all the rows of one message: any failure wins, then anything still
    pending; otherwise the least advanced row (a text split in two is «read» when both are)."""
    if not states:
        return DeliveryReport(DeliveryState.PENDING)
    for row in states:
        if row.state == "failed":
            return DeliveryReport(DeliveryState.NOT_SENT, row.error_code, row.meaning)
    if any(row.state not in _PROGRESS for row in states):
        return DeliveryReport(DeliveryState.PENDING)
    order = list(_PROGRESS)
    return DeliveryReport(_PROGRESS[min((row.state for row in states), key=order.index)])


class Delivery:
    def __init__(
        self,
        reader: OutboxReader | None = None,
        wait_seconds: float = 3.0,
        poll_seconds: float = 0.2,
        run_blocking: Callable[..., object] | None = None,
    ) -> None:
        self.reader = reader
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self._run_blocking = run_blocking

    @staticmethod
    def new_ref() -> str:
        return secrets.token_urlsafe(12)

    async def _states(self, conversation_id: str, ref: str) -> Sequence[OutboundState]:
        assert self.reader is not None
        if self._run_blocking is not None:
            return await self._run_blocking(  # type: ignore[misc]
                self.reader.states_for, conversation_id, ref)
        return await asyncio.to_thread(self.reader.states_for, conversation_id, ref)

    async def report(self, conversation_id: str, ref: str) -> DeliveryReport:
        """What is known of the message with this reference (Rasa already accepted it)."""
        if self.reader is None:
            return DeliveryReport(DeliveryState.ACCEPTED)
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                report = summarise(await self._states(conversation_id, ref))
            except Exception:  # noqa: BLE001 - the outbox being unreadable is not a failure to send
                logger.exception("Could not read the outbox state of a console message.")
                return DeliveryReport(DeliveryState.ACCEPTED)
            if report.state is not DeliveryState.PENDING or time.monotonic() >= deadline:
                return report
            await asyncio.sleep(self.poll_seconds)
