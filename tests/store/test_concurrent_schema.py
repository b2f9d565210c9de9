"""Several instances starting at once on a new PostgreSQL database all come up: the schema
they create at the same moment is checked again instead of failing the start."""

from __future__ import annotations

import threading

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from stack.services import postgres_problem, temporary_database
from store.crypto import KeyRing
from store.db import create_schema
from store.tracker_store import EncryptedSQLTrackerStore


def test_a_creation_refused_by_a_race_is_tried_again() -> None:
    calls: list[int] = []

    def create() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise (IntegrityError if len(calls) == 1 else ProgrammingError)(
                "CREATE INDEX", {}, Exception("already exists"))

    create_schema(create)
    assert len(calls) == 3


def test_a_creation_that_keeps_failing_is_reported_and_an_unreachable_server_at_once() -> None:
    calls: list[int] = []

    def racing() -> None:
        calls.append(1)
        raise IntegrityError("CREATE TABLE", {}, Exception("duplicate key"))

    with pytest.raises(IntegrityError):
        create_schema(racing, attempts=2)
    assert len(calls) == 2

    def unreachable() -> None:
        calls.append(1)
        raise OperationalError("CREATE TABLE", {}, Exception("connection refused"))

    with pytest.raises(OperationalError):
        create_schema(unreachable)
    assert len(calls) == 3


def test_sqlite_saying_already_exists_is_a_lost_race_and_a_locked_file_is_not() -> None:
    calls: list[str] = []

    def create() -> None:
        calls.append("create")
        if len(calls) == 1:
            raise OperationalError("CREATE TABLE handoff_tickets", {},
                                   Exception("table handoff_tickets already exists"))

    create_schema(create)
    assert calls == ["create", "create"]

    def locked() -> None:
        calls.append("locked")
        raise OperationalError("CREATE TABLE", {}, Exception("unable to open database file"))

    with pytest.raises(OperationalError):
        create_schema(locked)
    assert calls.count("locked") == 1


def test_processes_creating_the_queue_tables_together_on_sqlite_all_start(tmp_path) -> None:
    """The console, the action server and Rasa open the embedded SQLite queue at once."""
    from sqlalchemy import create_engine

    from handoff.escalation_log import EscalationLog
    from store.erasure import ErasureRequests

    url = f"sqlite:///{tmp_path / 'queue.db'}"
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def open_tables(kind: type) -> None:
        engine = create_engine(url, connect_args={"timeout": 30})
        try:
            start.wait(timeout=30)
            kind(engine)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=open_tables, args=(kind,))
               for kind in (EscalationLog, ErasureRequests) * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


def test_six_tracker_stores_start_together_on_a_new_database(domain) -> None:
    problem = postgres_problem()
    if problem:
        pytest.skip(f"needs PostgreSQL: {problem}")
    ring = KeyRing((Fernet.generate_key(),))
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def open_store(url: str) -> None:
        try:
            start.wait(timeout=30)
            EncryptedSQLTrackerStore(domain, host=url, keyring=ring)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    with temporary_database(prefix="t_race") as url:
        threads = [threading.Thread(target=open_store, args=(url,)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert errors == []
