"""Rasa's Redis lock store, made safe for several Rasa instances and for her privacy.

Rasa serialises the turns of one conversation with a ticket lock kept in Redis. Its
``RedisLockStore`` reads the lock, changes it in Python and writes it back: two instances
that ask for a ticket for the same conversation at the same moment can both read "free",
both write ticket 1 and both run a turn at once; one finishing can also erase the ticket
another has just taken. It also names each key after the conversation id (her phone
number) and re-checks a busy lock once a second.

``HelplineRedisLockStore`` keeps Rasa's ticket algorithm and storage format but

- changes every lock with an optimistic Redis transaction (``WATCH``/``MULTI``), so the read
  and the write of a ticket are one atomic step across instances;
- keys each lock by the keyed digest of the conversation id (``store.crypto``): Redis (and its
  snapshots on disk) never holds a phone number;
- re-checks a busy lock every ``poll_seconds`` (default 0.05 s) instead of every second;
- keeps its own ticket alive while it waits and while its turn runs (renewed every third of
  the lifetime). Rasa's ticket simply expires ``TICKET_LOCK_LIFETIME`` seconds after it was
  issued: a message that waits behind a long queue then fails with LockError (she gets no
  answer), and a turn that runs longer than that shares the conversation with the next one.
  Here only the ticket of an instance that stopped renewing it (killed mid-turn) expires,
  so the lifetime can be short and such a lock frees itself quickly.

endpoints.production.yml::

    lock_store:
      type: store.lock_store.HelplineRedisLockStore
      url: ${REDIS_HOST}
      port: ${REDIS_PORT}
      db: ${REDIS_DB}

``TICKET_LOCK_LIFETIME`` (Rasa's variable; the stack sets 15 s for the production topology)
is therefore how long the conversations of a killed instance stay locked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, RedisLockStore
from rasa.utils.endpoints import EndpointConfig
from redis.exceptions import WatchError

from store.crypto import KeyRing, data_keyring

logger = logging.getLogger(__name__)
DEFAULT_POLL_SECONDS = 0.05
T = TypeVar("T")


class HelplineRedisLockStore(RedisLockStore):
    def __init__(self, host: str = "localhost", port: int | str = 6379, db: int | str = 1,
                 poll_seconds: float | str = DEFAULT_POLL_SECONDS,
                 keyring: KeyRing | None = None,
                 endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        if endpoint_config is not None:  # how Rasa builds a lock store named by module path
            settings = dict(endpoint_config.kwargs)
            host = endpoint_config.url or settings.pop("host", host)
            port, db = settings.pop("port", port), settings.pop("db", db)
            poll_seconds = settings.pop("poll_seconds", poll_seconds)
            kwargs = {**settings, **kwargs}
        kwargs = {k: v for k, v in kwargs.items() if v not in (None, "")}
        super().__init__(host=host, port=int(port), db=int(db), **kwargs)
        self.poll_seconds = float(poll_seconds)
        self.keyring = keyring or data_keyring()

    def _key(self, lock_id: str) -> str:
        return self.key_prefix + lock_id

    @asynccontextmanager
    async def lock(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float | None = None) -> AsyncGenerator[TicketLock, None]:
        """Rasa's ticket lock for the conversation, stored under its digest, with the
        ticket renewed until it is given back."""
        wait = self.poll_seconds if wait_time_in_seconds is None else wait_time_in_seconds
        lock_id = self.keyring.digest(conversation_id)
        ticket = self.issue_ticket(lock_id, lock_lifetime)
        keeper = asyncio.ensure_future(self._keep_alive(lock_id, ticket, lock_lifetime))
        try:
            yield await self._acquire_lock(lock_id, ticket, min(wait, self.poll_seconds))
        finally:
            keeper.cancel()
            self.cleanup(lock_id, ticket)

    async def _keep_alive(self, lock_id: str, ticket: int, lifetime: float) -> None:
        while True:
            await asyncio.sleep(max(0.05, lifetime / 3))
            try:
                await asyncio.to_thread(self.renew, lock_id, ticket, lifetime)
            except Exception:  # noqa: BLE001 - Redis hiccup: the next renewal tries again
                logger.warning("could not renew a conversation lock ticket", exc_info=True)

    def renew(self, lock_id: str, ticket_number: int, lifetime: float) -> None:
        """Push the expiry of ``ticket_number`` to ``lifetime`` seconds from now."""
        def change(lock: TicketLock | None) -> tuple[None, TicketLock | None]:
            for ticket in (lock.tickets if lock is not None else ()):
                if ticket.number == ticket_number:
                    ticket.expires = time.time() + lifetime
            return None, lock

        self._atomic(lock_id, change)

    # --- atomic read-modify-write ----------------------------------------------------------
    def _atomic(self, lock_id: str, change: Callable[[TicketLock | None], tuple[T, TicketLock | None]]
                ) -> T:
        """Apply ``change`` to the stored lock in one transaction; it returns (result, lock
        to store or None to delete). Retried when another instance changed it meanwhile."""
        key = self._key(lock_id)
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    current = TicketLock.from_dict(json.loads(raw)) if raw else None
                    result, updated = change(current)
                    pipe.multi()
                    if updated is None:
                        pipe.delete(key)
                    else:
                        pipe.set(key, updated.dumps())
                    pipe.execute()
                    return result
                except WatchError:
                    continue

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def change(lock: TicketLock | None) -> tuple[int, TicketLock]:
            lock = lock or TicketLock(conversation_id)
            return lock.issue_ticket(lock_lifetime), lock

        return self._atomic(conversation_id, change)

    def update_lock(self, conversation_id: str) -> None:
        def change(lock: TicketLock | None) -> tuple[None, TicketLock | None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return None, lock

        self._atomic(conversation_id, change)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        def change(lock: TicketLock | None) -> tuple[None, TicketLock | None]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return None, lock

        self._atomic(conversation_id, change)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Give the ticket back; delete the lock when nobody else waits (one step)."""
        def change(lock: TicketLock | None) -> tuple[None, TicketLock | None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return None, lock if lock.is_someone_waiting() else None

        self._atomic(conversation_id, change)
