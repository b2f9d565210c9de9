"""The queue, the schema upgrade and the statistics on PostgreSQL (production's database), in a
database of their own that is dropped afterwards. Skipped where no PostgreSQL answers."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from handoff.models import metadata
from handoff.priority import EMERGENCY, RISK
from handoff.queue import HandoffQueue
from handoff.schema import upgrade
from handoff.stats import StatsStore

ADMIN_URL = "postgresql://root@127.0.0.1:5432/test"


@pytest.fixture
def pg_url() -> Iterator[str]:
    try:
        admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001
        pytest.skip(f"no PostgreSQL at 127.0.0.1:5432 ({type(error).__name__})")
    name = f"t_consola_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield f"postgresql://root@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_queue_statistics_and_upgrade_on_postgres(pg_url: str) -> None:
    engine = create_engine(pg_url, future=True)
    try:
        with engine.begin() as conn:  # the tables as the first release created them
            conn.execute(text(
                "CREATE TABLE handoff_agents (id SERIAL PRIMARY KEY, username VARCHAR(64) NOT NULL"
                " UNIQUE, password_hash VARCHAR(256) NOT NULL, role VARCHAR(16) NOT NULL,"
                " last_seen_at TIMESTAMP, active BOOLEAN NOT NULL)"))
            conn.execute(text("INSERT INTO handoff_agents (username, password_hash, role, active)"
                              " VALUES ('ana', 'x', 'specialist', true)"))
        queue = HandoffQueue(engine, digest=lambda v: f"d{len(v)}{v[-2:]}")
        assert upgrade(engine, metadata) == []
        ana = queue.agent_by_username("ana")
        assert ana.must_change_password is False
        ticket = queue.open_ticket("56911112222", "risk", RISK, "r", region="Región de Ñuble")
        queue.escalate("56911112222", "emergencia_ahora")
        queue.claim(ticket.id, ana.id)
        queue.record_first_reply(ticket.id, queue.get(ticket.id).created_at + timedelta(seconds=42))
        closed = queue.close(ticket.id, ana.id, "emergencia_derivada", ["denuncia"])
        assert closed.outcome == "emergencia_derivada" and closed.tags == ("denuncia",)
        assert queue.loads() == {}
        assert queue.purge_closed(closed.closed_at + timedelta(seconds=1)) == 1
        stats = StatsStore(engine, digest=lambda v: v[-6:])
        [row] = stats.handoff_rows(closed.created_at - timedelta(hours=1),
                                   closed.created_at + timedelta(hours=1))
        assert (row.level, row.priority, row.first_reply_seconds, row.region) == (
            "emergency", EMERGENCY, 42, "Región de Ñuble")
        stats.record_contact("56911112222")
        assert stats.record_contact("56911112222").first_in_day is False
    finally:
        engine.dispose()
