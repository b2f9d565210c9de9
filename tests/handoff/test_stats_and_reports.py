"""Anonymous statistics rows (written with each ticket change, surviving the purge) and the
report figures built from them (periods in Chile's time, suppression of small cells)."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import inspect, select, text, update

from handoff.models import HandoffStat, Note, Ticket
from handoff.priority import EMERGENCY, PERSON, RISK
from handoff.queue import HandoffQueue
from handoff.reports import (
    Period,
    PeriodFigures,
    PeriodSpan,
    Suppressed,
    figures,
    percentile,
    recent_periods,
    suppress,
)
from handoff.stats import ContactRow, HandoffRow, StatsStore, period_keys
from store.db import make_engine


def digest(value: str) -> str:
    return hashlib.sha256(f"k:{value}".encode()).hexdigest()


@pytest.fixture
def stats(queue: HandoffQueue) -> StatsStore:
    return StatsStore(queue.engine, digest=digest)


def stat_rows(queue: HandoffQueue) -> list[HandoffStat]:
    with queue._session() as s:  # noqa: SLF001 - reading the table as it is stored
        return list(s.execute(select(HandoffStat)).scalars())


# ------------------------------------------------------------------------ writing
def test_each_ticket_change_updates_its_anonymous_row(queue: HandoffQueue) -> None:
    ana = queue.create_agent("ana", "x").id
    t = queue.open_ticket("56911112222", "risk", RISK, "violencia_fisica", region="Región de Los Ríos")
    queue.escalate("56911112222", "emergencia_ahora")
    queue.claim(t.id, ana)
    queue.record_first_reply(t.id, queue.get(t.id).created_at + timedelta(seconds=95))
    queue.record_first_reply(t.id)  # only the first counts
    queue.close(t.id, ana, "emergencia_derivada", ["violencia_fisica", "hijos_hijas"])
    [row] = stat_rows(queue)
    assert (row.level, row.priority, row.escalated) == ("emergency", EMERGENCY, True)
    assert row.first_reply_seconds == 95
    assert row.outcome == "emergencia_derivada" and row.tags == ["violencia_fisica", "hijos_hijas"]
    assert row.region == "Región de Los Ríos" and row.abandoned is False
    assert row.opened_at.second == 0 and row.closed_at.second == 0  # to the minute


def test_a_case_closed_without_a_human_reply_is_an_abandoned_wait(queue: HandoffQueue) -> None:
    sup = queue.create_agent("sara", "x", "supervisor").id
    t = queue.open_ticket("c1", "other", PERSON, "pedir_persona")
    queue.close(t.id, sup, "sin_respuesta")
    [row] = stat_rows(queue)
    assert row.abandoned is True and row.first_reply_seconds is None


def test_statistics_rows_hold_no_identifier_and_survive_the_purge(queue: HandoffQueue) -> None:
    columns = {c["name"] for c in inspect(queue.engine).get_columns("handoff_stats")}
    assert not columns & {"conversation_id", "agent_id", "ticket_id", "text", "reason"}
    ana = queue.create_agent("ana", "x").id
    t = queue.open_ticket("56911112222", "risk", RISK, "violencia_fisica",
                          safe_contact="después de las 19", region="Región de Ñuble")
    queue.claim(t.id, ana)
    queue.add_note(t.id, ana, "tiene dos hijos")
    queue.close(t.id, ana, "orientacion")
    assert queue.purge_closed(datetime.utcnow() - timedelta(days=1)) == 0  # too recent
    assert queue.purge_closed(datetime.utcnow() + timedelta(seconds=1)) == 1
    purged = queue.get(t.id)
    assert "56911112222" not in purged.conversation_id and purged.safe_contact is None
    assert purged.region is None and purged.reason == ""
    with queue._session() as s:  # noqa: SLF001
        assert s.execute(select(Note)).first() is None
    [row] = stat_rows(queue)
    assert (row.level, row.outcome, row.region) == ("risk", "orientacion", "Región de Ñuble")
    assert queue.purge_closed(datetime.utcnow() + timedelta(seconds=1)) == 0  # idempotent


def test_people_are_counted_once_per_period_without_storing_who(stats: StatsStore) -> None:
    monday = datetime(2026, 3, 9, 15, 0)  # 12:00 in Santiago
    first = stats.record_contact("56911112222", monday)
    again = stats.record_contact("56911112222", monday + timedelta(hours=2))
    tuesday = stats.record_contact("56911112222", monday + timedelta(days=1))
    other = stats.record_contact("56933334444", monday)
    assert (first.first_in_day, first.first_in_week, first.first_in_month) == (True, True, True)
    assert (again.first_in_day, again.first_in_week) == (False, False)
    assert (tuesday.first_in_day, tuesday.first_in_week) == (True, False)
    assert other.first_in_day
    rows = stats.contact_rows(monday - timedelta(days=1), monday + timedelta(days=2))
    assert len(rows) == 4
    with stats._session() as s:  # noqa: SLF001
        dump = " ".join(str(r) for r in s.execute(text("SELECT * FROM handoff_stats_seen")))
        dump += " ".join(str(r) for r in s.execute(text("SELECT * FROM handoff_stats_contacts")))
    assert "56911112222" not in dump and "56933334444" not in dump
    assert stats.purge_seen(monday + timedelta(days=60)) == 2


def test_the_event_broker_counts_each_new_session(monkeypatch, tmp_path) -> None:
    import asyncio

    from handoff import stats as stats_module
    from handoff.escalation import EscalationBroker

    url = f"sqlite:///{tmp_path / 'broker.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HELPLINE_DATA_KEY", "0" * 43 + "=")
    monkeypatch.setattr(stats_module, "_shared", {})

    async def run() -> None:
        broker = EscalationBroker(queue_factory=lambda: HandoffQueue(make_engine(url)))
        broker.publish({"sender_id": "56911112222", "event": "session_started"})
        broker.publish({"sender_id": "56911112222", "event": "session_started"})
        for _ in range(100):
            await asyncio.sleep(0.02)
            if len(stats_module.shared_stats().contact_rows(datetime(2000, 1, 1),
                                                            datetime(2100, 1, 1))) == 2:
                break

    asyncio.run(run())
    rows = stats_module.shared_stats().contact_rows(datetime(2000, 1, 1), datetime(2100, 1, 1))
    assert [r.first_in_day for r in rows] == [True, False]


# ------------------------------------------------------------------------ periods
def test_period_keys_use_chiles_local_time() -> None:
    # 02:30 UTC on 1 March is still 28 February in Santiago (UTC-3 in summer)
    assert period_keys(datetime(2026, 3, 1, 2, 30)) == ("2026-02-28", "2026-W09", "2026-02")
    assert period_keys(datetime(2026, 7, 1, 3, 30)) == ("2026-06-30", "2026-W27", "2026-06")


def test_recent_periods_are_contiguous_and_end_with_now() -> None:
    now = datetime(2026, 3, 11, 15, 0)
    for period, first_key, last_key in ((Period.DAY, "2026-02-26", "2026-03-11"),
                                        (Period.WEEK, "2025-W52", "2026-W11"),
                                        (Period.MONTH, "2025-04", "2026-03")):
        spans = recent_periods(period, {Period.DAY: 14}.get(period, 12), now)
        assert spans[0].key == first_key and spans[-1].key == last_key
        assert all(a.until == b.since for a, b in zip(spans, spans[1:], strict=False))
        assert spans[-1].since <= now < spans[-1].until
    assert recent_periods(Period.WEEK, 1, now)[0].start == date(2026, 3, 9)  # a Monday


def test_suppression_and_percentiles() -> None:
    assert [suppress(n) for n in (0, 1, 4, 5, 120)] == [0, None, None, 5, 120]
    assert percentile([], 90) is None
    assert percentile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 90) == 90
    assert percentile([5], 50) == 5


def handoff(at: datetime, level: str = "risk", reply: int | None = 60,
            outcome: str | None = "orientacion", region: str | None = None) -> HandoffRow:
    return HandoffRow(at, level, RISK, False, reply, at + timedelta(hours=1), outcome, (),
                      region, reply is None)


def test_figures_group_rows_by_period_and_suppress_small_cells() -> None:
    now = datetime(2026, 3, 11, 15, 0)
    spans = recent_periods(Period.WEEK, 2, now)
    this_week = spans[-1].since + timedelta(hours=5)
    last_week = spans[0].since + timedelta(hours=5)
    rows = [handoff(this_week, reply=60 * i) for i in range(1, 7)]
    rows += [handoff(this_week, "emergency", None, "sin_respuesta", "Región de Aysén del "
                     "General Carlos Ibáñez del Campo")]
    rows += [handoff(last_week, reply=30), handoff(last_week - timedelta(days=30))]
    contacts = [ContactRow(this_week, True, True, True)] * 6 + [ContactRow(this_week, True,
                                                                           False, False)]
    [old, new] = figures(Period.WEEK, spans, rows, contacts)
    assert old.handoffs == 1 and new.handoffs == 7  # the row of 30 days ago is outside
    assert new.by_level == {"risk": 6, "emergency": 1}
    assert new.conversations == 7 and new.people == 6
    assert new.replied == 6 and new.median_reply_seconds == 210 and new.p90_reply_seconds == 360
    shown_new, shown_old = Suppressed.of(new), Suppressed.of(old)
    assert shown_new.by_level["emergency"] is None and shown_new.by_level["risk"] == 6
    assert shown_new.abandoned is None  # 1
    assert shown_new.by_region == {"Región de Aysén del General Carlos Ibáñez del Campo": None}
    assert shown_new.handoffs == 7 and shown_new.median_reply_seconds == 210
    # 7 handoffs and «<5» emergencies: risk (6) would give emergencies away
    assert shown_new.hidden_levels == frozenset({"risk"})
    assert shown_old.handoffs is None and shown_old.median_reply_seconds is None


def test_an_empty_period_shows_zeros() -> None:
    span = PeriodSpan("2026-03-11", date(2026, 3, 11), datetime(2026, 3, 11, 3),
                      datetime(2026, 3, 12, 3))
    shown = Suppressed.of(PeriodFigures(span))
    assert (shown.conversations, shown.people, shown.handoffs, shown.abandoned) == (0, 0, 0, 0)
    assert shown.by_level == {"emergency": 0, "risk": 0, "info": 0, "other": 0}


# ------------------------------------------------------------------------ upgrade
OLD_SCHEMA = """
CREATE TABLE handoff_agents (id INTEGER PRIMARY KEY, username VARCHAR(64) NOT NULL UNIQUE,
  password_hash VARCHAR(256) NOT NULL, role VARCHAR(16) NOT NULL, last_seen_at DATETIME,
  active BOOLEAN NOT NULL);
CREATE TABLE handoff_tickets (id INTEGER PRIMARY KEY, conversation_id VARCHAR(128) NOT NULL,
  status VARCHAR(16) NOT NULL, level VARCHAR(16) NOT NULL, priority INTEGER NOT NULL,
  reason VARCHAR(200) NOT NULL, safe_contact VARCHAR(200), screening JSON,
  agent_id INTEGER REFERENCES handoff_agents(id), created_at DATETIME NOT NULL,
  assigned_at DATETIME, closed_at DATETIME, escalated_at DATETIME);
CREATE TABLE console_sessions (token_hash VARCHAR(64) PRIMARY KEY,
  agent_id INTEGER NOT NULL REFERENCES handoff_agents(id), csrf_token VARCHAR(64) NOT NULL,
  created_at DATETIME NOT NULL, expires_at DATETIME NOT NULL);
INSERT INTO handoff_agents VALUES (1, 'ana', 'scrypt$x', 'specialist', NULL, 1);
INSERT INTO handoff_tickets VALUES (1, 'c1', 'assigned', 'risk', 3, 'r', NULL, NULL, 1,
  '2026-03-01 12:00:00', '2026-03-01 12:05:00', NULL, NULL);
INSERT INTO console_sessions VALUES ('abc', 1, 'csrf', '2026-03-01 12:00:00',
  '2099-01-01 00:00:00');
"""


def test_an_existing_database_is_upgraded_in_place(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        for statement in OLD_SCHEMA.split(";"):
            if statement.strip():
                conn.execute(text(statement))
    queue = HandoffQueue(engine)  # upgrades on start
    from console.sessions import SessionStore

    SessionStore(engine)
    ticket = queue.get(1)
    assert ticket.status == "assigned" and ticket.region is None and ticket.outcome is None
    agent = queue.get_agent(1)
    assert agent.username == "ana" and agent.must_change_password is False
    with engine.begin() as conn:
        assert conn.execute(text("SELECT agent_id FROM console_sessions")).scalar_one() == 1
        conn.execute(update(Ticket).where(Ticket.id == 1).values(region="Región de Ñuble"))
    assert queue.close(1, 1, "orientacion").outcome == "orientacion"
    tables = set(inspect(engine).get_table_names())
    assert {"console_sessions", "console_login_failures", "console_one_time_codes",
            "handoff_stats", "handoff_stats_contacts", "handoff_contact_preferences"} <= tables
    # a second start finds nothing to add
    from handoff.models import metadata
    from handoff.schema import upgrade

    assert upgrade(engine, metadata) == []
