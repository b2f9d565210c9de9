"""``store.db.write_promptly``: a write that finds SQLite's write lock taken by another
connection tries again until the lock is free, runs its work in one transaction, and leaves
the pooled connection with the usual busy timeout."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select
from sqlalchemy.exc import OperationalError

from store.db import SQLITE_BUSY_TIMEOUT_MS, make_engine, write_promptly

metadata = MetaData()
items = Table("items", metadata, Column("id", Integer, primary_key=True))


@pytest.fixture
def engines(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    ours, theirs = make_engine(url), make_engine(url)
    metadata.create_all(ours)
    yield ours, theirs
    ours.dispose()
    theirs.dispose()


def test_a_write_waits_for_the_lock_another_connection_holds(engines) -> None:
    ours, theirs = engines
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with theirs.begin() as conn:
            conn.execute(insert(items).values(id=1))
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert holding.wait(10)
    tries = []

    def work(conn) -> str:
        tries.append(1)
        if len(tries) == 3:
            release.set()  # the other writer commits while we keep trying
        conn.execute(insert(items).values(id=2))
        return "stored"

    assert write_promptly(ours, work) == "stored"
    holder.join(10)
    assert len(tries) >= 3  # the first tries found the lock taken and were rolled back
    with ours.connect() as conn:
        assert sorted(conn.execute(select(items.c.id)).scalars()) == [1, 2]
        timeout = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    assert timeout == SQLITE_BUSY_TIMEOUT_MS  # the pooled connection is as it was


def test_other_errors_are_not_retried(engines) -> None:
    ours, _ = engines
    tries = []

    def broken(conn) -> None:
        tries.append(1)
        conn.exec_driver_sql("INSERT INTO no_such_table VALUES (1)")

    with pytest.raises(OperationalError, match="no such table"):
        write_promptly(ours, broken)
    assert tries == [1]


def test_a_failed_try_leaves_nothing_behind(engines) -> None:
    ours, _ = engines

    def half_then_fail(conn) -> None:
        conn.execute(insert(items).values(id=5))
        conn.exec_driver_sql("INSERT INTO no_such_table VALUES (1)")

    with pytest.raises(OperationalError):
        write_promptly(ours, half_then_fail)
    with ours.connect() as conn:
        assert list(conn.execute(select(items.c.id)).scalars()) == []
