"""Did the specialist's message leave? The console's one adapter to the channel's outbox.

The console sends a message by posting a ``bot`` event to Rasa (``execute_side_effects``):
Rasa hands it to the WhatsApp output channel. Rasa's HTTP answer only says that Rasa took the
event; whether WhatsApp accepted it is known to the channel. So the console never says
«Mensaje enviado» on Rasa's word alone.

Interface (for the channel's outbox, ``channels.whatsapp.outbox``):

- The console puts a fresh reference in the bot event's metadata: ``{"console_ref": ref}``.
  Rasa passes bot-event metadata to the output channel as keyword arguments
  (``send_text_message(recipient_id, text, console_ref=ref, ...)``), so the outbox can store it
  with each outbound row it creates for that message (a long text may become several rows).
- ``OutboxReader.states_for(ref)`` returns those rows' states, oldest first, as
  ``OutboundState(state, error_code)`` with ``state`` one of ``pending`` (not sent yet),
  ``sent`` (Meta accepted it), ``delivered``, ``read``, ``failed`` (with Meta's code), or an
  empty sequence if no row has that reference (yet). It blocks (database): the console calls it
  in its thread pool.
- ``Delivery(reader).report(ref)`` waits up to ``wait_seconds`` for the rows to leave
  ``pending`` and returns a ``DeliveryReport``; the console shows «No se envió: <Meta's
  meaning>» for a failure.

Until the lead connects the outbox (``Delivery(reader=OutboxAdapter())`` in
``console/app.py``), there is no reader and every report is ``ACCEPTED``: «Rasa aceptó el
mensaje; que llegó no se puede confirmar desde aquí».
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

REF_KEY = "console_ref"


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


@dataclass(frozen=True)
class DeliveryReport:
    state: DeliveryState
    error_code: int | None = None


class OutboxReader(Protocol):
    def states_for(self, ref: str) -> Sequence[OutboundState]: ...


_PROGRESS = {"sent": DeliveryState.SENT, "delivered": DeliveryState.DELIVERED,
             "read": DeliveryState.READ}  # in order


def summarise(states: Sequence[OutboundState]) -> DeliveryReport:
    """One report for all the rows of one message: any failure wins, then anything still
    pending; otherwise the least advanced row (a text split in two is «read» when both are)."""
    if not states:
        return DeliveryReport(DeliveryState.PENDING)
    for row in states:
        if row.state == "failed":
            return DeliveryReport(DeliveryState.NOT_SENT, row.error_code)
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

    async def _states(self, ref: str) -> Sequence[OutboundState]:
        assert self.reader is not None
        if self._run_blocking is not None:
            return await self._run_blocking(self.reader.states_for, ref)  # type: ignore[misc]
        return await asyncio.to_thread(self.reader.states_for, ref)

    async def report(self, ref: str) -> DeliveryReport:
        """What is known of the message with this reference (Rasa already accepted it)."""
        if self.reader is None:
            return DeliveryReport(DeliveryState.ACCEPTED)
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                report = summarise(await self._states(ref))
            except Exception:  # noqa: BLE001 - the outbox being unreadable is not a failure to send
                logger.exception("Could not read the outbox state of a console message.")
                return DeliveryReport(DeliveryState.ACCEPTED)
            if report.state is not DeliveryState.PENDING or time.monotonic() >= deadline:
                return report
            await asyncio.sleep(self.poll_seconds)
