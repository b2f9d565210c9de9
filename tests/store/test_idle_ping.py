"""Pooled PostgreSQL connections are pinged only after sitting idle, and a connection the
server closed while idle is replaced before anybody uses it."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from stack.services import default_database_url, postgres_problem
from store.db import make_engine


@pytest.fixture(scope="module")
def pg_url() -> str:
    problem = postgres_problem()
    if problem:
        pytest.skip(f"needs PostgreSQL: {problem}")
    return default_database_url()


def _counting_pings(engine: sa.engine.Engine) -> list[int]:
    pings: list[int] = []
    real = engine.dialect.do_ping

    def counted(dbapi_connection):
        pings.append(1)
        return real(dbapi_connection)

    engine.dialect.do_ping = counted
    return pings


def _backend_pid(engine: sa.engine.Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


def test_busy_connections_are_not_pinged(pg_url) -> None:
    engine = make_engine(pg_url, ping_after_idle=60, pool_size=1, max_overflow=0)
    pings = _counting_pings(engine)
    for _ in range(20):
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT 1")).scalar_one() == 1
    assert pings == []
    engine.dispose()


def test_a_connection_closed_while_idle_is_replaced_before_use(pg_url) -> None:
    engine = make_engine(pg_url, ping_after_idle=0.2, pool_size=1, max_overflow=0)
    pings = _counting_pings(engine)
    first = _backend_pid(engine)
    killer = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    with killer.connect() as connection:
        assert connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"),
                                  {"pid": first}).scalar_one()
    killer.dispose()
    time.sleep(0.4)
    second = _backend_pid(engine)  # no error: the dead connection was pinged and replaced
    assert second != first and pings
    engine.dispose()
