"""Erasure: her conversation forgotten on her request or a supervisor's.

``erase(queue, conversation_id, source, agent_id)`` is the one erasure function (the console's
«Borrar datos» and her «Borrar mis datos» call it). In the caller's process, at once:

1. her open ticket is closed and the content of all her tickets goes (number, safe-contact
   answer, screening answers, reason, notes); the anonymous statistics rows stay, and the
   audit records who erased which ticket (``HandoffQueue.erase_conversation``);
2. the channel's rows of her conversation go (``channels.whatsapp.retention``);
3. a durable request to delete her tracker is stored.

Her tracker lives in Rasa's tracker store, which Rasa re-saves at the end of every turn: it
can only be deleted *after* the turn, under her conversation lock. Every Rasa instance runs
``run_pending`` (``channels/whatsapp/runtime.py``: after each turn and every few seconds): it
claims a request, takes her lock (so the turn that asked has been saved, and no other runs),
deletes her tracker rows and forgets her cached tracker, erases 1–2 again (what came since),
and marks the request done (the sealed conversation id is dropped; retention deletes the row).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, delete, select, update
from sqlalchemy.engine import Engine

from store.crypto import InvalidToken, data_keyring
from store.db import create_schema
from store.privacy import log_id
from store.retention import Horizon, register

logger = logging.getLogger(__name__)

CLAIM_STALE_SECONDS = 300.0  # a claim older than this belonged to an instance that died
_wakers: list[Callable[[], None]] = []


def on_request(wake: Callable[[], None]) -> Callable[[], None]:
    """Call ``wake`` (from any thread) whenever this process stores a request, so the Rasa
    instance runs it at once; returns the function that stops it."""
    _wakers.append(wake)
    return lambda: _wakers.remove(wake) if wake in _wakers else None


def _wake_all() -> None:
    for wake in list(_wakers):
        try:
            wake()
        except Exception:  # noqa: BLE001 - a stopped loop: its instance is gone
            logger.debug("an erasure waker failed", exc_info=True)

metadata = MetaData()
erasure_requests = Table(
    "erasure_requests", metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_digest", String(64), nullable=False, index=True),
    Column("sealed_id", Text, nullable=True),  # her conversation id (Fernet), until done
    Column("source", String(16), nullable=False),  # ErasureSource
    Column("agent_id", Integer, nullable=True),
    Column("state", String(16), nullable=False, index=True),  # ErasureState
    Column("requested_at", Float, nullable=False),
    Column("claimed_at", Float, nullable=True),
    Column("done_at", Float, nullable=True),
)


class ErasureSource(str, Enum):
    SHE = "she"  # «Borrar mis datos» on WhatsApp
    SUPERVISOR = "supervisor"  # «Borrar datos» in the console


class ErasureState(str, Enum):
    PENDING = "pending"  # her tracker still to delete
    DONE = "done"  # tracker deleted; only the digest and times remain until retention


@dataclass(frozen=True)
class Request:
    id: int
    conversation_id: str


class ErasureRequests:
    """The durable requests, in the queue's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_schema(lambda: metadata.create_all(engine))

    def add(self, conversation_id: str, source: ErasureSource,
            agent_id: int | None = None) -> int:
        ring = data_keyring()
        with self.engine.begin() as conn:
            request_id = int(conn.execute(erasure_requests.insert().values(
                conversation_digest=ring.digest(conversation_id),
                sealed_id=ring.encrypt_text(conversation_id), source=source.value,
                agent_id=agent_id, state=ErasureState.PENDING.value,
                requested_at=time.time())).inserted_primary_key[0])
        _wake_all()
        return request_id

    def pending(self, conversation_id: str | None = None) -> int:
        query = select(erasure_requests.c.id).where(
            erasure_requests.c.state == ErasureState.PENDING.value)
        if conversation_id is not None:
            query = query.where(erasure_requests.c.conversation_digest
                                == data_keyring().digest(conversation_id))
        with self.engine.connect() as conn:
            return len(conn.execute(query).all())

    def claim(self, limit: int = 20, now: float | None = None) -> list[Request]:
        """Take pending requests nobody holds (or whose holder died)."""
        now = time.time() if now is None else now
        table = erasure_requests
        with self.engine.connect() as conn:
            rows = conn.execute(select(table.c.id, table.c.sealed_id, table.c.claimed_at).where(
                table.c.state == ErasureState.PENDING.value).order_by(table.c.id)
                .limit(limit)).all()
        taken = []
        for row in rows:
            if row.claimed_at is not None and now - row.claimed_at < CLAIM_STALE_SECONDS:
                continue
            with self.engine.begin() as conn:
                won = conn.execute(update(table).where(
                    table.c.id == row.id, table.c.state == ErasureState.PENDING.value,
                    (table.c.claimed_at.is_(None) if row.claimed_at is None
                     else table.c.claimed_at == row.claimed_at))
                    .values(claimed_at=now)).rowcount == 1
            if won:
                try:
                    taken.append(Request(row.id, data_keyring().decrypt_text(row.sealed_id)))
                except InvalidToken:
                    logger.error("erasure request %s cannot be decrypted; kept", row.id)
        return taken

    def finish(self, request_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(erasure_requests).where(erasure_requests.c.id == request_id)
                         .values(state=ErasureState.DONE.value, sealed_id=None,
                                 done_at=time.time()))

    def release(self, request_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(erasure_requests).where(erasure_requests.c.id == request_id)
                         .values(claimed_at=None))

    def purge(self, before: float) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(delete(erasure_requests).where(
                erasure_requests.c.state == ErasureState.DONE.value,
                erasure_requests.c.done_at < before)).rowcount)


def _queue(queue: Any = None) -> Any:
    if queue is not None:
        return queue
    from handoff.queue import HandoffQueue

    return HandoffQueue.from_env()


def erase_records(conversation_id: str, agent_id: int | None = None,
                  queue: Any = None) -> list[int]:
    """Steps 1–2 of the module docstring (idempotent). Returns her ticket ids."""
    from channels.whatsapp.retention import forget_conversation

    tickets = _queue(queue).erase_conversation(conversation_id, agent_id)
    forget_conversation(conversation_id)
    return tickets


def erase(conversation_id: str, source: ErasureSource, agent_id: int | None = None,
          queue: Any = None) -> list[int]:
    """The one erasure function (see the module docstring). Returns her ticket ids."""
    queue = _queue(queue)
    tickets = erase_records(conversation_id, agent_id, queue)
    ErasureRequests(queue.engine).add(conversation_id, source, agent_id)
    logger.info("erasure of conversation %s requested (%s)", log_id(conversation_id),
                source.value)
    return tickets


async def erase_tracker(tracker_store: Any, lock_store: Any, conversation_id: str) -> int:
    """Under her lock: delete her tracker rows and forget her cached tracker."""
    from store.tracker_retention import delete_conversation

    key = tracker_store.keyring.digest(conversation_id)
    async with lock_store.lock(conversation_id):
        deleted = await asyncio.to_thread(delete_conversation, tracker_store.engine, key)
        cache = getattr(tracker_store, "cache", None)
        if cache is not None:
            cache.forget(key)
    return deleted


async def run_pending(tracker_store: Any, lock_store: Any, queue: Any = None) -> int:
    """A Rasa instance executes the stored requests (see the module docstring)."""
    queue = _queue(queue)
    requests = ErasureRequests(queue.engine)
    done = 0
    for request in await asyncio.to_thread(requests.claim):
        try:
            await erase_tracker(tracker_store, lock_store, request.conversation_id)
            await asyncio.to_thread(erase_records, request.conversation_id, None, queue)
        except Exception:  # noqa: BLE001 - the next tick tries again
            logger.exception("erasure request %s failed; kept", request.id)
            await asyncio.to_thread(requests.release, request.id)
            continue
        await asyncio.to_thread(requests.finish, request.id)
        logger.info("conversation %s erased", log_id(request.conversation_id))
        done += 1
    return done


@register("erasure_requests")
def purge(horizon: Horizon) -> int:
    return ErasureRequests(_queue().engine).purge(horizon.cutoff_epoch)
