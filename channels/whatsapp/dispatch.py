"""Background work that keeps each conversation's messages in the order received.

One short-lived worker task per sender drains that sender's queue; different senders
run concurrently. Every task is referenced until done (so it is not garbage collected).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from channels.whatsapp.privacy import hash_id

logger = logging.getLogger(__name__)

T = TypeVar("T")


class OrderedDispatcher(Generic[T]):
    def __init__(self, handler: Callable[[T], Awaitable[Any]]) -> None:
        self._handler = handler
        self._queues: dict[str, deque[T]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def submit(self, key: str, item: T) -> None:
        """Queue ``item`` behind everything already queued for ``key``."""
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(item)
            return
        self._queues[key] = deque([item])
        self.spawn(self._drain(key))

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run ``coro`` in the background, keeping a reference until it ends."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _drain(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue:
                item = queue.popleft()
                try:
                    await self._handler(item)
                except Exception:  # noqa: BLE001 - one bad turn must not stop the queue
                    logger.exception("WhatsApp turn for %s failed", hash_id(key))
        finally:
            del self._queues[key]

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def join(self, timeout: float | None = None) -> None:
        """Wait until all background work (including work it starts) is done."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._tasks:
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            if remaining == 0.0:
                raise TimeoutError("background WhatsApp work still running")
            await asyncio.wait(set(self._tasks), timeout=remaining)
