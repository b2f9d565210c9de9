"""Rasa's SQL tracker store, with her words and her number unreadable at rest, and turns
that do not get slower as the conversation grows.

``EncryptedSQLTrackerStore`` keeps Rasa's ``events`` table (same columns, so Rasa's own
tools and the SQLite/PostgreSQL engines work as documented) but writes each row so:

| column        | content                                                                |
| ------------- | ---------------------------------------------------------------------- |
| `id`          | Rasa's autoincrement id (the order of the conversation)                |
| `sender_id`   | keyed HMAC-SHA256 of the conversation id (``store.crypto`` digest)     |
| `type_name`   | the event type (`user`, `bot`, `action`, `slot`, `session_started`…)   |
| `timestamp`   | the event time (sessions, retention)                                   |
| `intent_name` | empty (NULL): an intent name such as `violencia_sexual` says too much  |
| `action_name` | empty (NULL)                                                           |
| `data`        | Fernet token (``store.crypto`` key ring) of ``{"sender_id", "event"}`` |

The conversation id (her phone number on WhatsApp) exists only inside the ciphertext: the
sealed copy gives ``keys()`` and every tracker its real ``sender_id`` back.

Speed: Rasa's store reads, parses and replays the whole session twice per turn. This one
keeps the deserialised tracker per conversation in memory (``store.tracker_cache``) with the
id of its newest row and reads only newer rows, so a turn costs the same at the 200th
message as at the 2nd. New events are published to the event broker after they are
committed, from the save itself (no second read).

Rows are only ever appended or deleted. Whoever changes a stored conversation in another
way (redacting a message she deleted, erasure, retention) must delete its rows and, if
anything is kept, append the new ones: every instance then sees that its cached last row is
gone and reads the conversation again. An UPDATE in place would not be noticed by the
other instances' caches.

Sessions are found by row id (events from the newest ``session_started`` row on), not by
timestamp as Rasa does: ids follow the order in which the lock-serialised saves of a
conversation were committed, whatever the clocks of several instances say.

endpoints.yml::

    tracker_store:
      type: store.tracker_store.EncryptedSQLTrackerStore
      dialect: sqlite            # or a full URL in `url`, e.g. ${DATABASE_URL}
      db: var/tracker.db
      cache_size: 1000           # conversations kept per instance (0: no cache)
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.orm import sessionmaker

from store.crypto import InvalidToken, KeyRing, data_keyring
from store.db import create_schema
from store.privacy import log_id
from store.tracker_cache import ORIGIN_ATTRIBUTE, CachedTracker, TrackerCache, twin
from store.tracker_states import IncrementalStatesTracker

logger = logging.getLogger(__name__)

SESSION_STARTED = SessionStarted.type_name
DEFAULT_CACHE_SIZE = 1000
SENDER_ORDER_INDEX = "ix_events_sender_id_id"


def _sender_order_index(table: sa.Table) -> sa.Index:
    """Rasa indexes sender_id alone; every query here also orders or bounds by id. The index
    joins Rasa's table definition once (later ``create_all`` calls then create it too)."""
    for index in table.indexes:
        if index.name == SENDER_ORDER_INDEX:
            return index
    return sa.Index(SENDER_ORDER_INDEX, table.c.sender_id, table.c.id)


def _sqlite_write_ahead_log(engine: sa.engine.Engine) -> None:
    """Embedded runs: a commit per turn without a full fsync of the journal (WAL,
    synchronous=NORMAL: durable when Rasa crashes; the last turns may be lost only if the
    machine itself loses power), and readers never blocked by the writer."""
    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    engine.dispose()  # connections opened by Rasa's __init__ lack the pragmas


def _without_logged_parameters(engine: sa.engine.Engine) -> sa.engine.Engine:
    """Rasa's engine again, with ``hide_parameters``: statement parameters never appear in
    SQLAlchemy's errors or logs (Rasa's own engine would print them on a failure)."""
    from rasa.core.tracker_store import create_engine_kwargs

    url = engine.url
    engine.dispose()
    return sa.create_engine(url, hide_parameters=True, **create_engine_kwargs(url))


class TrackerDecryptionError(RuntimeError):
    """A tracker row was written with a key that is not in ``HELPLINE_DATA_KEY``."""


class EncryptedSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` with encrypted rows, digested ids and an incremental cache."""

    def __init__(
        self,
        domain: Domain | None = None,
        dialect: str = "sqlite",
        host: str | None = None,
        port: int | None = None,
        db: str = "rasa.db",
        username: str | None = None,
        password: str | None = None,
        event_broker: EventBroker | None = None,
        login_db: str | None = None,
        query: dict | None = None,
        cache_size: int | str = DEFAULT_CACHE_SIZE,
        keyring: KeyRing | None = None,
        **kwargs: Any,
    ) -> None:
        if dialect == "sqlite" and db:
            # a fresh clone has no var/ yet: SQLite cannot create a file in a missing folder
            Path(db).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        super().__init__(domain, dialect, host, port, db, username, password, event_broker,
                         login_db, query, **kwargs)
        self.engine = _without_logged_parameters(self.engine)
        self.sessionmaker = sessionmaker(bind=self.engine)
        if self.engine.dialect.name == "sqlite":
            _sqlite_write_ahead_log(self.engine)
        self.keyring = keyring or data_keyring()
        self.cache = TrackerCache(int(cache_size))
        self._table = self.SQLEvent.__table__
        index = _sender_order_index(self._table)
        create_schema(lambda: index.create(self.engine, checkfirst=True))

    def init_tracker(self, sender_id: str) -> DialogueStateTracker:
        return IncrementalStatesTracker(sender_id, self.domain.slots,
                                        max_event_history=self.max_event_history)

    # --- rows ---------------------------------------------------------------------------
    def digest(self, sender_id: str) -> str:
        return self.keyring.digest(sender_id)

    def _row(self, key: str, sender_id: str, event: Event) -> dict[str, Any]:
        data = event.as_dict()
        return {"sender_id": key, "type_name": event.type_name,
                "timestamp": data.get("timestamp"), "intent_name": None, "action_name": None,
                "data": self.keyring.encrypt_json({"sender_id": sender_id, "event": data})}

    def _open(self, sender_id: str, rows: Sequence[Any]) -> list[Event]:
        events = []
        for row in rows:
            try:
                sealed = self.keyring.decrypt_json(row.data)
            except InvalidToken:
                raise TrackerDecryptionError(
                    f"tracker row {row.id} of conversation {log_id(sender_id)} cannot be "
                    "decrypted: HELPLINE_DATA_KEY lacks the key that wrote it") from None
            if sealed.get("sender_id") != sender_id:
                logger.error("tracker row %s does not belong to conversation %s; skipped",
                             row.id, log_id(sender_id))
                continue
            event = Event.from_parameters(sealed["event"])
            if event is not None:
                events.append(event)
        return events

    # --- queries ------------------------------------------------------------------------
    def _rows(self, connection: sa.engine.Connection, key: str, from_id: int | None) -> list[Any]:
        table = self._table
        query = sa.select(table.c.id, table.c.type_name, table.c.data) \
            .where(table.c.sender_id == key)
        if from_id is not None:
            query = query.where(table.c.id >= from_id)
        return list(connection.execute(query.order_by(table.c.id)))

    def _session_start_id(self, connection: sa.engine.Connection, key: str) -> int | None:
        table = self._table
        return connection.execute(
            sa.select(sa.func.max(table.c.id))
            .where(table.c.sender_id == key, table.c.type_name == SESSION_STARTED)
        ).scalar()

    def _last_id(self, connection: sa.engine.Connection, key: str) -> int | None:
        table = self._table
        return connection.execute(
            sa.select(sa.func.max(table.c.id)).where(table.c.sender_id == key)).scalar()

    def _session_count(self, connection: sa.engine.Connection, key: str) -> int:
        table = self._table
        query = sa.select(sa.func.count()).select_from(table).where(table.c.sender_id == key)
        start = self._session_start_id(connection, key)
        if start is not None:
            query = query.where(table.c.id >= start)
        return int(connection.execute(query).scalar() or 0)

    # --- reading ------------------------------------------------------------------------
    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The latest session of the conversation (from the cache when it is current)."""
        key = self.digest(sender_id)
        with self.engine.connect() as connection:
            entry = self._refreshed(connection, key, sender_id)
            if entry is None:
                entry = self._load_session(connection, key, sender_id)
        if entry is None:
            return None
        self.cache.put(key, entry)
        return self._lend(key, entry)

    def _refreshed(self, connection: sa.engine.Connection, key: str,
                   sender_id: str) -> CachedTracker | None:
        """The cached entry brought up to date with newer rows, or None to reload."""
        entry = self.cache.get(key)
        if entry is None:
            return None
        rows = self._rows(connection, key, entry.last_id)
        if not rows or rows[0].id != entry.last_id:
            self.cache.forget(key)  # rows were deleted (erasure, retention): read again
            return None
        newer = rows[1:]
        if any(row.type_name == SESSION_STARTED for row in newer):
            return None  # a new session began elsewhere: read it from its start
        for event in self._open(sender_id, newer):
            entry.tracker.update(event)
        if newer:
            entry.last_id = newer[-1].id
            entry.session_events += len(newer)
        return entry

    def _load_session(self, connection: sa.engine.Connection, key: str,
                      sender_id: str) -> CachedTracker | None:
        rows = self._rows(connection, key, self._session_start_id(connection, key))
        if not rows:
            return None
        tracker = IncrementalStatesTracker.from_events(
            sender_id, self._open(sender_id, rows), self.domain.slots)
        return CachedTracker(tracker, rows[-1].id, len(rows))

    @staticmethod
    def _lend(key: str, entry: CachedTracker) -> DialogueStateTracker:
        tracker = twin(entry.tracker)
        setattr(tracker, ORIGIN_ATTRIBUTE, (key, entry.last_id))
        return tracker

    async def retrieve_full_tracker(self, conversation_id: str) -> DialogueStateTracker | None:
        """Every session of the conversation (not cached: the console and exports use it)."""
        key = self.digest(conversation_id)
        with self.engine.connect() as connection:
            rows = self._rows(connection, key, None)
        if not rows:
            return None
        return IncrementalStatesTracker.from_events(
            conversation_id, self._open(conversation_id, rows), self.domain.slots)

    async def exists(self, conversation_id: str) -> bool:
        with self.engine.connect() as connection:
            return self._last_id(connection, self.digest(conversation_id)) is not None

    async def keys(self) -> Iterable[str]:
        """The real conversation ids, read back from the sealed copy in each conversation."""
        table = self._table
        first = sa.select(sa.func.min(table.c.id)).group_by(table.c.sender_id)
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(table.c.data).where(table.c.id.in_(first.scalar_subquery())))
            return [self.keyring.decrypt_json(row.data)["sender_id"] for row in rows]

    # --- writing ------------------------------------------------------------------------
    async def save(self, tracker: DialogueStateTracker) -> None:
        """Append the tracker's events that are not stored yet (Rasa's rule: the stored
        session is a prefix of ``tracker.events``), then publish them to the broker."""
        key = self.digest(tracker.sender_id)
        with self.engine.begin() as connection:
            before = self._last_id(connection, key)
            entry = self.cache.get(key)
            if entry is not None and entry.last_id == before:
                stored = entry.session_events
            else:
                stored = self._session_count(connection, key)
            new_events = list(itertools.islice(tracker.events, stored, None))
            if new_events:
                connection.execute(self._table.insert(),
                                   [self._row(key, tracker.sender_id, e) for e in new_events])
                after = self._last_id(connection, key)
            else:
                after = before
        self._remember(key, tracker, before, after, stored, new_events)
        if self.event_broker is not None and new_events:
            await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)

    def _remember(self, key: str, tracker: DialogueStateTracker, before: int | None,
                  after: int | None, stored: int, new_events: list[Event]) -> None:
        """Cache what was saved when it is exactly what a reload would give."""
        lent_from_here = getattr(tracker, ORIGIN_ATTRIBUTE, None) == (key, before)
        if after is None or not (lent_from_here or stored == 0) or any(
                isinstance(event, SessionStarted) for event in new_events):
            self.cache.forget(key)
            return
        self.cache.put(key, CachedTracker(twin(tracker), after, stored + len(new_events)))
        setattr(tracker, ORIGIN_ATTRIBUTE, (key, after))

    # --- changing a stored conversation (under her lock) --------------------------------
    def conversation_of(self, key: str) -> str | None:
        """The conversation id behind a keyed digest, read from its sealed first row."""
        table = self._table
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(table.c.data).where(table.c.sender_id == key)
                                     .order_by(table.c.id).limit(1)).first()
        return None if row is None else self.keyring.decrypt_json(row.data).get("sender_id")

    def rewrite(self, sender_id: str,
                change: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
        """Pass every stored event (as a dict) through ``change``; if any changed, delete the
        conversation's rows and append the changed sequence in one transaction (the
        append-or-delete contract above). Call it under her lock. Returns events changed."""
        key = self.digest(sender_id)
        with self.engine.begin() as connection:
            rows = self._rows(connection, key, None)
            before = [event.as_dict() for event in self._open(sender_id, rows)]
            after = [change(dict(event)) for event in before]
            changed = sum(1 for old, new in zip(before, after, strict=False) if old != new)
            if changed:
                table = self._table
                connection.execute(sa.delete(table).where(table.c.sender_id == key,
                                                          table.c.id <= rows[-1].id))
                events = [Event.from_parameters(data) for data in after]
                connection.execute(table.insert(), [self._row(key, sender_id, event)
                                                    for event in events if event is not None])
        self.cache.forget(key)
        return changed

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        """Not used: ``save`` publishes exactly the events it committed."""


def encrypted_store(store: Any) -> EncryptedSQLTrackerStore | None:
    """Our store behind what Rasa's agent holds (Rasa wraps it in ``FailSafeTrackerStore``),
    or None when the agent uses another store (unit tests of the channel)."""
    for _ in range(3):
        if isinstance(store, EncryptedSQLTrackerStore):
            return store
        store = getattr(store, "_tracker_store", None)
    return None
