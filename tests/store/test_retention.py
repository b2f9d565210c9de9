"""Retention on real SQLite files: content older than RETENTION_DAYS goes from every store of
the registry, newer or held content stays, and the reports still read the statistics."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import text, update

from channels.whatsapp import inbox, outbox, window
from channels.whatsapp.inbound import parse_update
from channels.whatsapp.outbox import OutboundRequest
from handoff import audit_chain
from handoff.escalation_log import EscalationLog, Kind
from handoff.escalation_log import Outcome as EscalationOutcome
from handoff.models import Ticket
from handoff.queue import HandoffQueue
from handoff.reports import Period, figures, recent_periods
from handoff.stats import shared_stats
from simulator import webhooks as wh
from store import retention, tracker_retention
from store.tracker_store import EncryptedSQLTrackerStore
from training.items import ReviewReason, week_of
from training.review import review_store

DAY = 24 * 3600.0
OLD_NO_TICKET, OLD_CLOSED, RECENTLY_CLOSED, STILL_OPEN, RECENT = (
    "56911110001", "56911110002", "56911110003", "56911110004", "56911110005")
SECRET = "me pega cuando toma"


@pytest.fixture
def env(private_stores: dict, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    monkeypatch.setenv("RETENTION_DAYS", "30")
    tracker_retention.use_tracker_store(private_stores["trackers"])
    yield private_stores
    tracker_retention._engine = None


async def _talk(store: EncryptedSQLTrackerStore, sender: str, at: float) -> None:
    events = [ActionExecuted("action_session_start", timestamp=at), SessionStarted(timestamp=at),
              UserUttered(SECRET, {"name": "saludar", "confidence": 1.0}, timestamp=at,
                          message_id=f"wamid.{sender}")]
    await store.save(DialogueStateTracker.from_events(sender, events, store.domain.slots))


def _ticket(queue: HandoffQueue, sender: str, closed_days_ago: float | None) -> int:
    ticket = queue.open_ticket(sender, "risk", 3, "violencia_fisica", safe_contact="sí, es seguro",
                               screening={"answers": {"amenaza": "sí"}}, region="Biobío")
    agent = queue.create_agent(f"ana{ticket.id}", "x", "supervisor").id
    queue.add_note(ticket.id, agent, "anotación privada")
    if closed_days_ago is not None:
        queue.close(ticket.id, agent, "orientacion")
        closed = datetime.utcnow() - timedelta(days=closed_days_ago)
        with queue.engine.begin() as conn:
            conn.execute(update(Ticket).where(Ticket.id == ticket.id).values(closed_at=closed))
    return ticket.id


def _channel_rows(sender: str, at: float) -> None:
    inbox.store_update(parse_update(wh.update(messages=[wh.identity_change_message(sender)]),
                                    wh.SANDBOX_PHONE_NUMBER_ID), now=at)
    outbox.enqueue([OutboundRequest(f"k{sender}", sender, {"type": "text",
                                                           "text": {"body": "hola"}})], now=at)
    with outbox.engine().begin() as conn:
        row_id = conn.execute(text("SELECT max(id) FROM whatsapp_outbox")).scalar()
    outbox.mark_sent(row_id, f"wamid.out.{sender}", now=at)
    window.record_user_message(sender, at)


def _review_items(old: date) -> None:
    store = review_store()
    for week in (old, week_of(date.today())):
        store.add("texto revisado", [ReviewReason.LOW_CONFIDENCE], {"level": "info"}, week=week)


def _count(path: Path, sql: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchone()[0]


async def test_purge_deletes_old_content_keeps_new_and_statistics(env: dict) -> None:
    now = time.time()
    old, recent = now - 40 * DAY, now - 5 * DAY
    trackers: EncryptedSQLTrackerStore = env["trackers"]
    for sender in (OLD_NO_TICKET, OLD_CLOSED, RECENTLY_CLOSED, STILL_OPEN):
        await _talk(trackers, sender, old)
    await _talk(trackers, RECENT, recent)
    queue = HandoffQueue.from_env()
    purged_ticket = _ticket(queue, OLD_CLOSED, closed_days_ago=35)
    kept_ticket = _ticket(queue, RECENTLY_CLOSED, closed_days_ago=3)
    open_ticket = _ticket(queue, STILL_OPEN, closed_days_ago=None)
    _channel_rows(OLD_NO_TICKET, old)
    _channel_rows(RECENT, recent)
    log = EscalationLog(queue.engine)
    for ticket_id in (purged_ticket, kept_ticket):
        log.record(Kind.ACKNOWLEDGEMENT, ticket_id, "saludar", EscalationOutcome.SENT)
    with queue.engine.begin() as conn:
        conn.execute(text("UPDATE handoff_escalations SET created_at = :at WHERE ticket_id = :t"),
                     {"at": datetime.utcnow() - timedelta(days=40), "t": purged_ticket})
    _review_items(week_of(date.today() - timedelta(days=60)))

    counts = retention.purge_all(retention.Horizon(datetime.now(timezone.utc)))

    assert set(counts) == {"whatsapp_channel", "handoff_queue", "escalation_log",
                           "audit_details", "review_items", "rasa_trackers",
                           "erasure_requests"}
    assert all(count >= 0 for count in counts.values()), counts
    # trackers: the idle, unheld ones are gone; the held and recent ones stay
    for sender in (OLD_NO_TICKET, OLD_CLOSED):
        assert await trackers.retrieve(sender) is None
    for sender in (RECENTLY_CLOSED, STILL_OPEN, RECENT):
        assert (await trackers.retrieve(sender)).latest_message.text == SECRET
    assert _count(env["tracker_db"], "SELECT count(*) FROM events") == 3 * 3
    # tickets: content of the old closed one forgotten, the others whole
    gone = queue.get(purged_ticket)
    assert gone.conversation_id.startswith("purged:") and gone.safe_contact is None
    assert gone.screening is None and queue.notes(purged_ticket) == []
    for ticket_id in (kept_ticket, open_ticket):
        assert queue.get(ticket_id).safe_contact == "sí, es seguro"
        assert len(queue.notes(ticket_id)) == 1
    # channel rows: the old ones gone, the recent ones kept
    assert [len(inbox.recent_identity_changes(s)) for s in (OLD_NO_TICKET, RECENT)] == [0, 1]
    assert _count(env["db"], "SELECT count(*) FROM whatsapp_inbox") == 1
    assert _count(env["db"], "SELECT count(*) FROM whatsapp_outbox") == 1
    assert window.last_user_message_at(OLD_NO_TICKET) is None
    assert window.last_user_message_at(RECENT) == pytest.approx(recent)
    # escalation log and review queue
    assert _count(env["db"], "SELECT count(*) FROM handoff_escalations") == 1
    assert review_store().count() == 1
    # the statistics rows survive and the reports read them
    rows = shared_stats().handoff_rows(datetime.utcnow() - timedelta(days=1),
                                       datetime.utcnow() + timedelta(days=1))
    assert len(rows) == 3 and {r.region for r in rows} == {"Biobío"}
    assert sorted(r.outcome or "" for r in rows) == ["", "orientacion", "orientacion"]
    spans = recent_periods(Period.MONTH, 1, datetime.utcnow())
    (month,) = figures(Period.MONTH, spans, rows, [])
    assert month.handoffs == 3 and month.by_region == {"Biobío": 3}
    # a second run finds nothing more
    again = retention.purge_all(retention.Horizon(datetime.now(timezone.utc)))
    assert again["rasa_trackers"] == 0 and again["handoff_queue"] == 0
    # the purge wrote to the audit log and blanked nothing recent: the chain still holds
    assert audit_chain.verify(queue.engine).ok


def test_retention_days_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETENTION_DAYS", "7")
    assert retention.Horizon().days == 7
    monkeypatch.setenv("RETENTION_DAYS", "no")
    assert retention.retention_days() == 30
    monkeypatch.delenv("RETENTION_DAYS")
    now = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
    assert retention.Horizon(now).cutoff == datetime(2026, 11, 1, 12)


def test_tracker_database_from_the_endpoints_file(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    sqlite_file = tmp_path / "endpoints.yml"
    sqlite_file.write_text("tracker_store:\n  type: store.tracker_store.EncryptedSQLTrackerStore\n"
                           "  dialect: sqlite\n  db: var/tracker.db\n")
    assert tracker_retention.endpoints_url(sqlite_file) == "sqlite:///var/tracker.db"
    monkeypatch.setenv("DATABASE_URL", "postgresql://ana@127.0.0.1:5432/test")
    production = Path(__file__).resolve().parents[2] / "endpoints.production.yml"
    for name in ("ACTION_SERVER_URL", "ACTION_SERVER_TOKEN", "TRACKER_CACHE_SIZE", "REDIS_HOST",
                 "REDIS_PORT", "REDIS_DB", "REDIS_PASSWORD", "REDIS_KEY_PREFIX"):
        monkeypatch.setenv(name, "1")
    assert tracker_retention.endpoints_url(production) == "postgresql://ana@127.0.0.1:5432/test"


async def test_cron_command_purges_the_tracker_store_of_the_endpoints_file(
        env: dict, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    await _talk(env["trackers"], OLD_NO_TICKET, time.time() - 40 * DAY)
    await _talk(env["trackers"], RECENT, time.time())
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("tracker_store:\n  type: store.tracker_store.EncryptedSQLTrackerStore\n"
                         f"  dialect: sqlite\n  db: {env['tracker_db']}\n")
    root = Path(__file__).resolve().parents[2]
    environment = {**os.environ, "ENDPOINTS": str(endpoints), "PYTHONPATH": str(root)}
    result = subprocess.run([sys.executable, "-m", "store.retention"], cwd=root,
                            env=environment, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "rasa_trackers: 3" in result.stdout
    assert _count(env["tracker_db"], "SELECT count(*) FROM events") == 3
