"""Inbox workers: per sender, in order, one Rasa turn per message, marked done after the save.

Each channel instance runs one ``InboxWorker`` with up to ``WHATSAPP_INBOX_CONCURRENCY``
turns in flight (always of different senders: ``inbox.claim`` never gives a sender's next
message while an earlier one is pending or in flight). For each message:
1. if it was taken before (a worker died or gave it back), and the tracker already holds a
   user event with its message id, the turn was saved: it is only marked done;
2. the Rasa turn runs (``on_new_message`` returns after the tracker is saved), with an
   output channel bound to her message, so its replies have idempotent outbox keys;
3. the read receipt is queued after the turn's replies (once, even if replayed), in the
   transaction that marks the row done. (Her last-message time, for the 24-hour window, was
   stored by the webhook with the message.)

A turn the action server could not serve (turn_guard.py) is given back and that message is
parked (its sender's later messages wait behind it) until the action server's health check
answers, retried meanwhile with a growing pause; every other conversation goes on, so the
answers that need only Rasa — the emergency answer first — keep reaching the women who write
while the action server is down. A turn that raises is retried, and kept as
``failed`` after three tries. Stopping (SIGTERM) takes no new work and waits at most
``WHATSAPP_DRAIN_SECONDS`` for the turns in flight; what is left goes back to the inbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import UserUttered

from channels.whatsapp import inbox
from channels.whatsapp.config import WhatsAppConfig
from channels.whatsapp.inbox import Claimed, InboxState
from channels.whatsapp.outbox import OutboundKind, OutboundRequest
from channels.whatsapp.output import WhatsAppOutput
from channels.whatsapp.privacy import hash_id
from channels.whatsapp.translate import to_rasa
from channels.whatsapp.turn_guard import (
    ActionServerUnavailable,
    TurnInterrupted,
    guarded_turn,
)

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
OutputFactory = Callable[[str | None], WhatsAppOutput]
HEALTH_TIMEOUT = 2.0
MAX_HEALTH_WAIT = 5.0
PARK_FIRST_DELAY = 2.0  # seconds before a parked message is tried again (doubling)
PARK_MAX_DELAY = 30.0
RECORD_RETRY_FIRST_DELAY = 0.2  # a failed turn whose failure cannot be recorded (doubling)
RECORD_RETRY_MAX_DELAY = 5.0
# Acknowledgements first: while webhooks are being stored, no new turn starts (a turn holds
# the event loop for tens of milliseconds at a time), for at most this long in a row.
MAX_DEFER_SECONDS = 0.5


class InboxWorker:
    def __init__(self, config: WhatsAppConfig, instance_id: str, on_new_message: OnNewMessage,
                 output_for: OutputFactory, *, agent: Any = None,
                 action_health_url: str | None = None,
                 after_turn: Callable[[], None] | None = None,
                 receiving: Callable[[], bool] | None = None) -> None:
        self.config = config
        self.tuning = config.tuning
        self.instance_id = instance_id
        self.on_new_message = on_new_message
        self.output_for = output_for
        self.agent = agent
        self.action_health_url = action_health_url
        self.after_turn = after_turn
        self.receiving = receiving
        self._deferring_since: float | None = None
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._blocked_until = 0.0  # database trouble: take nothing
        self._health_task: asyncio.Task[Any] | None = None
        # inbox row id → when to try it again (its turn needed the unreachable action server)
        self._parked: dict[int, float] = {}
        self._park_delay = PARK_FIRST_DELAY
        self.turns = 0  # turns run by this worker (for tests and logs)

    def nudge(self) -> None:
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def run(self) -> None:
        while not self._stopping:
            try:
                await self._step()
            except Exception:  # noqa: BLE001 - the database may be down for a moment
                logger.exception("inbox worker step failed; trying again")
                self._blocked_until = time.monotonic() + 1.0
            await self._sleep()

    async def _sleep(self) -> None:
        self._wake.clear()
        delay = max(self.tuning.poll_seconds, self._blocked_until - time.monotonic())
        if self._deferring_since is not None:
            delay = 0.01
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except asyncio.TimeoutError:
            pass

    async def _step(self) -> None:
        now = time.monotonic()
        if now < self._blocked_until or self._defer(now):
            return
        free = self.tuning.inbox_concurrency - len(self._tasks)
        if free <= 0:
            return
        self._parked = {row: due for row, due in self._parked.items() if due > now}
        parked = list(self._parked)
        for claimed in await asyncio.to_thread(inbox.claim, self.instance_id, free, None,
                                               parked):
            task = asyncio.ensure_future(self._process(claimed))
            self._tasks.add(task)
            task.add_done_callback(self._done)

    def _defer(self, now: float) -> bool:
        """Let the webhooks being stored answer before a new turn takes the event loop."""
        if self.receiving is None or not self.receiving():
            self._deferring_since = None
            return False
        if self._deferring_since is None:
            self._deferring_since = now
        return now - self._deferring_since < MAX_DEFER_SECONDS

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self.nudge()

    # --- one message ---------------------------------------------------------------------

    async def _process(self, claimed: Claimed) -> None:
        message = claimed.message
        if message is None:
            logger.error("inbox row %s cannot be decrypted; kept as failed", claimed.id)
            await asyncio.to_thread(inbox.record_failure, claimed, "unreadable", True)
            return
        ref = hash_id(message.sender)
        try:
            if claimed.replayed and await self._already_saved(message.sender, message.message_id):
                logger.info("replayed message of %s was already answered; marked done", ref)
            else:
                await self._turn(claimed)
            await asyncio.to_thread(inbox.finish, claimed, [self._read_receipt(claimed)])
            if self.after_turn is not None:
                self.after_turn()
        except TurnInterrupted as interrupted:
            await self._interrupted(claimed, interrupted, ref)
        except Exception as error:  # noqa: BLE001 - one bad turn must not stop the others
            await self._record_failure(claimed, error, ref)

    async def _record_failure(self, claimed: Claimed, error: Exception, ref: str) -> None:
        """Count the failed turn. If even that fails (the database is locked or down), try
        again until it works: a row left «processing» by a live instance is never taken back,
        and her later messages would wait behind it until this instance stops."""
        delay = RECORD_RETRY_FIRST_DELAY
        while True:
            try:
                state = await asyncio.to_thread(inbox.record_failure, claimed,
                                                f"error:{type(error).__name__}")
                break
            except Exception as cannot:  # noqa: BLE001
                if self._stopping:
                    return  # stop() gives back everything this instance holds
                logger.warning("turn of %s raised %s and the inbox cannot record it (%s); "
                               "trying again in %.1f s", ref, type(error).__name__,
                               type(cannot).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(RECORD_RETRY_MAX_DELAY, delay * 2)
        log = logger.error if state is InboxState.FAILED else logger.warning
        log("turn of %s raised %s (%s)", ref, type(error).__name__, state.value,
            exc_info=error)

    async def _turn(self, claimed: Claimed) -> None:
        message = claimed.message
        assert message is not None
        rasa_input = to_rasa(message, self.config.app_secret)
        with guarded_turn():
            await self.on_new_message(UserMessage(
                text=rasa_input.text,
                output_channel=self.output_for(claimed.wamid_digest),
                sender_id=message.sender,
                input_channel="whatsapp",
                message_id=message.message_id,
                metadata=rasa_input.metadata,
            ))
        self.turns += 1

    @staticmethod
    def _read_receipt(claimed: Claimed) -> OutboundRequest:
        """After the turn's replies, in her order: blue ticks, never a typing indicator."""
        message = claimed.message
        assert message is not None
        return OutboundRequest(
            key=f"read:{claimed.wamid_digest}", recipient=message.sender,
            message={"message_id": message.message_id}, kind=OutboundKind.READ,
            source="read_receipt", turn_digest=claimed.wamid_digest)

    async def _interrupted(self, claimed: Claimed, interrupted: TurnInterrupted,
                           ref: str) -> None:
        await asyncio.to_thread(inbox.give_back, claimed)
        if isinstance(interrupted, ActionServerUnavailable):
            logger.warning("action server unreachable during the turn of %s; the message "
                           "waits in the inbox until it answers", ref)
            self._parked[claimed.id] = time.monotonic() + self._park_delay
            self._park_delay = min(PARK_MAX_DELAY, self._park_delay * 2)
            if self._health_task is None or self._health_task.done():
                self._health_task = asyncio.ensure_future(self._wait_for_action_server())
        else:
            logger.warning("turn of %s interrupted (%s); it waits in the inbox",
                           ref, type(interrupted).__name__)
            self._blocked_until = max(self._blocked_until, time.monotonic() + 1.0)

    async def _wait_for_action_server(self) -> None:
        """When the action server's health check answers again, the parked messages go."""
        delay = 0.25
        try:
            if not self.action_health_url:
                await asyncio.sleep(1.0)
                return
            async with httpx.AsyncClient(timeout=HEALTH_TIMEOUT) as client:
                while not self._stopping:
                    try:
                        if (await client.get(self.action_health_url)).status_code == 200:
                            logger.info("action server answers again; taking work")
                            return
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(delay)
                    delay = min(MAX_HEALTH_WAIT, delay * 2)
        finally:
            self._parked.clear()
            self._park_delay = PARK_FIRST_DELAY
            self.nudge()

    async def _already_saved(self, sender: str, message_id: str) -> bool:
        """Does her tracker already hold a user event with this message id?"""
        store = getattr(self.agent, "tracker_store", None)
        if store is None:
            return False
        tracker = await store.retrieve(sender)
        if tracker is None:
            return False
        return any(isinstance(event, UserUttered) and event.message_id == message_id
                   for event in tracker.events)

    # --- stopping -------------------------------------------------------------------------

    async def stop(self, timeout: float) -> int:
        """Take no new work; wait at most ``timeout`` s for the turns in flight, then cancel
        the rest and give their messages back. Returns how many were given back."""
        self._stopping = True
        self.nudge()
        if self._health_task is not None:
            self._health_task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        left = list(self._tasks)
        for task in left:
            task.cancel()
        if left:
            await asyncio.wait(left, timeout=1.0)
        try:
            return await asyncio.to_thread(inbox.release_instance, self.instance_id)
        except Exception:  # noqa: BLE001 - they come back when this instance is seen dead
            logger.exception("could not give back the messages in flight")
            return 0
