"""The channel's background work in one Rasa instance: heartbeat, inbox worker, outbox sender.

Started when the server has started (the agent is loaded), stopped before it stops:
SIGTERM → no new turns, turns in flight get ``WHATSAPP_DRAIN_SECONDS`` (default 10 s) to end,
sends in flight get what is left of that time (at least 1 s); whatever is not finished
stays in the database for the next start or another instance. ``make run`` and the stack
launcher wait 15 s before they kill, so the drain fits.

Privacy work that must run inside Rasa, after turns and under her conversation lock, also
lives here: the retention purge a minute after start and then daily
(``store/retention.py``); stored erasure requests and messages she deleted in WhatsApp
(``store/erasure.py``, ``store/revocation.py``), after each turn, as soon as a request is
stored in this process, and every ``PRIVACY_SECONDS``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from channels.whatsapp import inbox, instances, nudge, outbox, turn_guard
from channels.whatsapp.config import WhatsAppConfig
from channels.whatsapp.graph_client import GraphClient
from channels.whatsapp.output import WhatsAppOutput
from channels.whatsapp.sender import OutboxSender
from channels.whatsapp.worker import InboxWorker, OnNewMessage
from store import erasure, retention, revocation
from store.tracker_retention import use_tracker_store
from store.tracker_store import encrypted_store

logger = logging.getLogger(__name__)

MAINTENANCE_SECONDS = 3600.0
RETENTION_FIRST_DELAY = 60.0  # the first purge waits until the instance is taking turns
PRIVACY_SECONDS = 5.0


class ChannelRuntime:
    def __init__(self, config: WhatsAppConfig, graph: GraphClient,
                 on_new_message: OnNewMessage, agent: Any = None,
                 receiving: Callable[[], bool] | None = None) -> None:
        self.config = config
        self.tuning = config.tuning
        self.instance_id = instances.new_instance_id()
        self.agent = agent
        endpoint = turn_guard.install(agent) if agent is not None else None
        self.sender = OutboxSender(config, graph, self.instance_id)
        self.worker = InboxWorker(config, self.instance_id, on_new_message, self.output_for,
                                  agent=agent, action_health_url=turn_guard.health_url(endpoint),
                                  after_turn=self._after_turn, receiving=receiving)
        self._privacy_wake = asyncio.Event()
        self._stop_waking: Callable[[], Any] = lambda: None
        self._loops: list[asyncio.Task[Any]] = []
        self._nudges: asyncio.DatagramTransport | None = None
        self.running = False

    def output_for(self, turn_digest: str | None = None) -> WhatsAppOutput:
        return WhatsAppOutput(self.config, self.sender.graph, turn_digest=turn_digest,
                              notify=self.sender.nudge)

    def _after_turn(self) -> None:
        self.sender.nudge()
        self._privacy_wake.set()

    async def start(self) -> None:
        await asyncio.to_thread(instances.beat, self.instance_id)
        use_tracker_store(encrypted_store(getattr(self.agent, "tracker_store", None)))
        loop = asyncio.get_running_loop()
        self._stop_waking = erasure.on_request(
            lambda: loop.call_soon_threadsafe(self._privacy_wake.set))
        self._loops = [asyncio.ensure_future(coro) for coro in
                       (self._heartbeat(), self.worker.run(), self.sender.run(),
                        self._privacy())]
        if self.config.nudge_listen is not None:  # a receiver process stores the webhooks
            self._nudges = await nudge.listen(self.config.nudge_listen, self.worker.nudge)
        self.running = True
        logger.info("WhatsApp channel instance %s started", self.instance_id)

    async def _heartbeat(self) -> None:
        """Beat; give back the work of dead instances; now and then, forget old rows."""
        maintained = 0.0
        purged = time.time() - retention.PURGE_EVERY_SECONDS + RETENTION_FIRST_DELAY
        while True:
            now = time.time()
            try:
                await asyncio.to_thread(instances.beat, self.instance_id, now)
                back = await asyncio.to_thread(inbox.reclaim_stale,
                                               now - self.tuning.stale_seconds)
                if back:
                    logger.warning("%d message(s) of a stopped instance go back to the inbox",
                                   back)
                    self.worker.nudge()
                if now - maintained > MAINTENANCE_SECONDS:
                    maintained = now
                    await asyncio.to_thread(instances.prune, now)
                if now - purged > retention.PURGE_EVERY_SECONDS:
                    purged = now
                    await asyncio.to_thread(retention.purge_all)
            except Exception:  # noqa: BLE001 - the database may be down for a moment
                logger.exception("WhatsApp channel heartbeat failed")
            await asyncio.sleep(self.tuning.stale_seconds / 4)

    async def _privacy(self) -> None:
        """Erasure requests and deleted messages: after each turn, and every few seconds."""
        store = encrypted_store(getattr(self.agent, "tracker_store", None))
        lock_store = getattr(self.agent, "lock_store", None)
        if store is None or lock_store is None:
            return  # not our encrypted tracker store (unit tests of the channel)
        while True:
            try:
                await asyncio.wait_for(self._privacy_wake.wait(), PRIVACY_SECONDS)
            except asyncio.TimeoutError:
                pass
            self._privacy_wake.clear()
            try:
                await erasure.run_pending(store, lock_store)
                await revocation.apply_pending(store, lock_store)
            except Exception:  # noqa: BLE001 - the database may be down for a moment
                logger.exception("erasure or deleted-message work failed; trying again")

    async def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        if self._nudges is not None:
            self._nudges.close()
        started = time.monotonic()
        drain = self.tuning.drain_seconds
        given_back = await self.worker.stop(drain)
        if given_back:
            logger.warning("stopping: %d message(s) not finished go back to the inbox",
                           given_back)
        await self.sender.stop(max(1.0, drain - (time.monotonic() - started)))
        self._stop_waking()
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        try:
            await asyncio.to_thread(instances.forget, self.instance_id)
        except Exception:  # noqa: BLE001
            logger.exception("could not remove this instance's heartbeat")

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until nothing is pending or in flight in the inbox and the outbox (tests)."""
        deadline = time.monotonic() + timeout
        while True:
            idle = (self.worker.in_flight == 0
                    and not await asyncio.to_thread(inbox.open_count)
                    and not await asyncio.to_thread(outbox.has_open_rows))
            if idle:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("WhatsApp inbox or outbox not settled")
            await asyncio.sleep(0.02)
