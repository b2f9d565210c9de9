"""The action server's single handoff-queue instance (created on first use)."""

from __future__ import annotations

from functools import lru_cache

from handoff.queue import HandoffQueue


@lru_cache(maxsize=1)
def get_queue() -> HandoffQueue:
    return HandoffQueue.from_env()
