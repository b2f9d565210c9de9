"""The channel's background work in one Rasa instance: heartbeat, inbox worker, outbox sender.

Started when the server has started (the agent is loaded), stopped before it stops:
SIGTERM → no new turns, turns in flight get ``WHATSAPP_DRAIN_SECONDS`` (default 10 s) to end,
sends in flight get what is left of that time (at least 1 s); whatever is not finished
stays in the database for the next start or another instance. ``make run`` and the stack
launcher wait 15 s before they kill, so the drain fits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from channels.whatsapp import inbox, instances, outbox, turn_guard
from channels.whatsapp.config import WhatsAppConfig
from channels.whatsapp.graph_client import GraphClient
from channels.whatsapp.output import WhatsAppOutput
from channels.whatsapp.sender import OutboxSender
from channels.whatsapp.worker import InboxWorker, OnNewMessage

logger = logging.getLogger(__name__)

MAINTENANCE_SECONDS = 3600.0
DEFAULT_RETENTION_DAYS = 30


def retention_seconds() -> float:
    try:
        days = float(os.environ.get("RETENTION_DAYS") or DEFAULT_RETENTION_DAYS)
    except ValueError:
        days = DEFAULT_RETENTION_DAYS
    return max(1.0, days) * 24 * 3600


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
                                  after_turn=self.sender.nudge, receiving=receiving)
        self._loops: list[asyncio.Task[Any]] = []
        self.running = False

    def output_for(self, turn_digest: str | None = None) -> WhatsAppOutput:
        return WhatsAppOutput(self.config, self.sender.graph, turn_digest=turn_digest,
                              notify=self.sender.nudge)

    async def start(self) -> None:
        await asyncio.to_thread(instances.beat, self.instance_id)
        self._loops = [asyncio.ensure_future(coro) for coro in
                       (self._heartbeat(), self.worker.run(), self.sender.run())]
        self.running = True
        logger.info("WhatsApp channel instance %s started", self.instance_id)

    async def _heartbeat(self) -> None:
        """Beat; give back the work of dead instances; now and then, forget old rows."""
        maintained = 0.0
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
                    await asyncio.to_thread(inbox.prune, retention_seconds(), now)
                    await asyncio.to_thread(outbox.prune, retention_seconds(), now)
            except Exception:  # noqa: BLE001 - the database may be down for a moment
                logger.exception("WhatsApp channel heartbeat failed")
            await asyncio.sleep(self.tuning.stale_seconds / 4)

    async def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        started = time.monotonic()
        drain = self.tuning.drain_seconds
        given_back = await self.worker.stop(drain)
        if given_back:
            logger.warning("stopping: %d message(s) not finished go back to the inbox",
                           given_back)
        await self.sender.stop(max(1.0, drain - (time.monotonic() - started)))
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
