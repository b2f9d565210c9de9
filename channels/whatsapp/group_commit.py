"""Group commit: concurrent writers share one transaction.

The webhook uses it so that concurrent webhooks share one durable transaction: each waits for
the commit that holds its items before it answers 200. While one transaction commits, the
items that arrive queue up and go together in the next one, so a burst costs one disk sync
per batch instead of one per item, and a lone item is written at once (no added wait). If a
batch fails, its items are stored one by one, so one bad item fails alone (the webhook
answers 503 for it). The outbox sender records the outcomes of its sends the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, Generic, TypeVar

MAX_BATCH = 200
Item = TypeVar("Item")


class GroupCommitter(Generic[Item]):
    """``store(items)`` writes a list of items in one transaction, in a thread of
    ``executor`` (None: the event loop's default executor)."""

    def __init__(self, executor: Executor | None,
                 store: Callable[[list[Item]], Any]) -> None:
        self._executor = executor
        self._store = store
        self._queue: list[tuple[Item, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.batches = 0  # transactions written (for tests and measurements)

    async def store(self, item: Item) -> None:
        """Return once ``item`` is committed; raise if it could not be stored."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write())
        await asyncio.shield(future)

    async def _write(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                await loop.run_in_executor(self._executor, self._store, [u for u, _ in batch])
                self.batches += 1
                results: list[BaseException | None] = [None] * len(batch)
            except Exception:  # noqa: BLE001 - find the webhook that cannot be stored
                results = [await self._alone(item) for item, _ in batch]
            for (_, future), error in zip(batch, results, strict=True):
                if future.done():
                    continue
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)

    async def _alone(self, item: Item) -> BaseException | None:
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._store,
                                                             [item])
            self.batches += 1
            return None
        except Exception as error:  # noqa: BLE001
            return error
