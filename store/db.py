"""One place that turns ``DATABASE_URL`` into a SQLAlchemy engine.

Default: a SQLite file ``var/helpline.db`` under the project folder. Production:
any SQLAlchemy URL, e.g. ``postgresql://user:pass@host/helpline``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
)

T = TypeVar("T")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "var" / "helpline.db"
# A pooled connection unused for longer than this is pinged before it is used again (the
# server restarted, a firewall dropped it). SQLAlchemy's ``pool_pre_ping`` pings before EVERY
# use: about half of the PostgreSQL round trips of a message, for connections that were in
# use milliseconds before. A connection that died while busier than this fails one operation
# and SQLAlchemy then replaces every connection of the pool; each caller of the database
# already retries (the webhook's 503 is retried by Meta, workers and the sender try again).
PING_AFTER_IDLE_SECONDS = 5.0
SQLITE_BUSY_TIMEOUT_MS = 30000
# How often a latency-bound write looks again for SQLite's write lock (write_promptly).
LOCK_POLL_SECONDS = 0.0005


def database_url() -> str:
    """The configured database URL, or the embedded SQLite default."""
    return os.environ.get("DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE_PATH}"


def make_engine(url: str | None = None, **options: object) -> Engine:
    """A new engine; SQLite gets WAL mode and a busy timeout so several processes can share it.
    ``options`` go to ``create_engine`` (e.g. a ``poolclass``). Statement parameters never
    appear in SQLAlchemy's errors or logs (``hide_parameters``): they may be her words."""
    url = url or database_url()
    options.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, future=True, connect_args={"timeout": 30, "check_same_thread": False},
            **options,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    ping_after_idle = float(options.pop("ping_after_idle", PING_AFTER_IDLE_SECONDS))
    engine = create_engine(url, future=True, **options)
    ping_when_idle(engine, ping_after_idle)
    return engine


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection before use only if it sat unused for ``idle_seconds``; a
    dead one is replaced before anybody uses it (as ``pool_pre_ping`` does)."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection, record) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection, record, _proxy) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < idle_seconds:
            return
        if not engine.dialect.do_ping(dbapi_connection):
            raise DisconnectionError("the pooled connection was closed while idle")


def write_promptly(engine: Engine, work: Callable[[Connection], T]) -> T:
    """``work(conn)`` in one transaction; on SQLite, waiting for the write lock by looking
    again every ``LOCK_POLL_SECONDS`` instead of through SQLite's busy handler.

    The busy handler sleeps 1, 2, 5, 10, 15, 20, 25… ms between tries, so a lock that another
    process holds for 3 ms costs 8 ms, and one held for 12 ms costs 18 ms: measured on the
    webhook's inbox write beside a Rasa instance, the wait for the lock was 19 ms at p95 for a
    write of 1 ms. ``work`` must be safe to run again: a try that found the lock taken has
    rolled back. Gives up after the usual busy timeout. Other databases: one plain try.
    """
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            return work(conn)
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    with engine.connect() as conn:
        _busy_timeout(conn, 0)
        try:
            while True:
                try:
                    with conn.begin():
                        return work(conn)
                except OperationalError as error:
                    if "locked" not in str(error.orig) or time.monotonic() > deadline:
                        raise
                time.sleep(LOCK_POLL_SECONDS)
        finally:
            _busy_timeout(conn, SQLITE_BUSY_TIMEOUT_MS)


def _busy_timeout(conn: Connection, milliseconds: int) -> None:
    conn.exec_driver_sql(f"PRAGMA busy_timeout={milliseconds}")
    conn.commit()  # a PRAGMA starts no SQLite transaction; this ends SQLAlchemy's autobegin


def create_schema(create: Callable[[], None], attempts: int = 5) -> None:
    """Run ``create`` (``create_all``, ``Index.create(checkfirst=True)``…), which checks
    what exists and creates the rest. Several instances starting at once on a new database
    race between that check and the creation: PostgreSQL then refuses one of them (a unique
    violation in its catalog, or «already exists»), SQLite says «already exists». Checking
    again a moment later finds the other instance's work done. Other errors (the server
    unreachable…) are not retried."""
    for attempt in range(1, attempts + 1):
        try:
            create()
            return
        except DBAPIError as error:
            if attempt == attempts or not _lost_a_creation_race(error):
                raise
            time.sleep(0.2 * attempt)


def _lost_a_creation_race(error: DBAPIError) -> bool:
    if isinstance(error, IntegrityError | ProgrammingError):
        return True
    return isinstance(error, OperationalError) and "already exists" in str(error.orig)


@lru_cache(maxsize=8)
def shared_engine(url: str | None = None) -> Engine:
    """A process-wide engine per URL (engines hold connection pools; make one each)."""
    return make_engine(url or database_url())
