"""Group commit for the webhook: concurrent webhooks share one durable transaction.

Each webhook waits for the commit that holds its items before it answers 200. While one
transaction commits, the webhooks that arrive queue up and go together in the next one, so a
burst costs one disk sync per batch instead of one per webhook, and a lone webhook is written
at once (no added wait). If a batch fails, its webhooks are stored one by one, so one bad
item answers 503 alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from channels.whatsapp.inbound import ParsedUpdate

MAX_BATCH = 200


class GroupCommitter:
    def __init__(self, executor: Executor,
                 store: Callable[[list[ParsedUpdate]], Any]) -> None:
        self._executor = executor
        self._store = store
        self._queue: list[tuple[ParsedUpdate, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.batches = 0  # transactions written (for tests and measurements)

    async def store(self, update: ParsedUpdate) -> None:
        """Return once ``update`` is committed; raise if it could not be stored."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((update, future))
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
                results = [await self._alone(update) for update, _ in batch]
            for (_, future), error in zip(batch, results, strict=True):
                if future.done():
                    continue
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)

    async def _alone(self, update: ParsedUpdate) -> BaseException | None:
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._store,
                                                             [update])
            self.batches += 1
            return None
        except Exception as error:  # noqa: BLE001
            return error
