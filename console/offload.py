"""Blocking calls off the event loop.

The queue, the session store and the statistics are synchronous SQLAlchemy code, and SQLite
may wait up to 30 s for a lock. The console never calls them on its event loop: it wraps each
in ``InThreads``, whose methods are coroutines that run the real method in a thread pool of
its own. One slow write then blocks one thread, never every specialist's screen.

    queue = InThreads(HandoffQueue(engine), pool)
    ticket = await queue.claim(ticket_id, agent_id)
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

T = TypeVar("T")

DEFAULT_THREADS = 8


def new_pool(threads: int = DEFAULT_THREADS) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="console-db")


async def in_thread(pool: ThreadPoolExecutor, function: Callable[..., T], *args: Any,
                    **kwargs: Any) -> T:
    """Run one blocking call in ``pool`` and await its result."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, functools.partial(function, *args, **kwargs))


class InThreads(Generic[T]):
    """Every public method of ``target`` as a coroutine running in ``pool``."""

    def __init__(self, target: T, pool: ThreadPoolExecutor) -> None:
        self.target = target
        self._pool = pool

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        attribute = getattr(self.target, name)
        if not callable(attribute):
            return attribute

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await in_thread(self._pool, attribute, *args, **kwargs)

        call.__name__ = name
        return call
