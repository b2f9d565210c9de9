"""Erasure on real SQLite files: the one erasure function forgets her ticket content and
channel rows at once, and a Rasa instance deletes her tracker after the turn, under her lock."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from rasa.core.lock_store import InMemoryLockStore
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import text

from channels.whatsapp import inbox
from channels.whatsapp.inbound import parse_update
from handoff.queue import HandoffQueue
from handoff.stats import shared_stats
from simulator import webhooks as wh
from store.erasure import ErasureRequests, ErasureSource, erase, run_pending
from store.tracker_store import EncryptedSQLTrackerStore

HER, OTHER = "56977770001", "56977770002"
SECRET = "mi pareja me amenaza"


@pytest.fixture
def env(private_stores: dict) -> dict:
    return private_stores


async def _talk(store: EncryptedSQLTrackerStore, sender: str) -> None:
    events = [ActionExecuted("action_session_start"), SessionStarted(),
              UserUttered(SECRET, {"name": "violencia_psicologica", "confidence": 1.0},
                          message_id=f"wamid.{sender}")]
    await store.save(DialogueStateTracker.from_events(sender, events, store.domain.slots))


def _senders_in(path: Path, store: EncryptedSQLTrackerStore) -> set[str]:
    with sqlite3.connect(path) as conn:
        keys = {row[0] for row in conn.execute("SELECT sender_id FROM events")}
    return {s for s in (HER, OTHER) if store.digest(s) in keys}


async def test_erasure_forgets_content_now_and_the_tracker_after_her_turn(env: dict) -> None:
    trackers: EncryptedSQLTrackerStore = env["trackers"]
    await _talk(trackers, HER)
    await _talk(trackers, OTHER)
    await trackers.retrieve(HER)  # cached in this instance
    queue = HandoffQueue.from_env()
    ticket = queue.open_ticket(HER, "risk", 3, "violencia_psicologica", safe_contact="no",
                               screening={"answers": {"celos": "sí"}}, region="Maule")
    agent = queue.create_agent("sara", "x", "supervisor").id
    queue.add_note(ticket.id, agent, "vive con él")
    inbox.store_update(parse_update(wh.update(messages=[wh.identity_change_message(HER)]),
                                    wh.SANDBOX_PHONE_NUMBER_ID))
    assert len(inbox.recent_identity_changes(HER)) == 1

    assert erase(HER, ErasureSource.SUPERVISOR, agent) == [ticket.id]

    forgotten = queue.get(ticket.id)
    assert forgotten.conversation_id == f"purged:{ticket.id}"
    assert (forgotten.safe_contact, forgotten.screening, forgotten.reason) == (None, None, "")
    assert not forgotten.is_open and queue.notes(ticket.id) == []
    assert queue.open_ticket_for(HER) is None
    assert [a.action for a in queue.audit_entries(ticket.id)][0] == "conversation_erased"
    assert queue.audit_entries(ticket.id)[0].agent_id == agent
    (row,) = shared_stats().handoff_rows(forgotten.created_at.replace(second=0, microsecond=0),
                                         forgotten.closed_at.replace(year=2100))
    assert (row.level, row.region) == ("risk", "Maule") and row.closed_at is not None
    assert inbox.recent_identity_changes(HER) == []
    requests = ErasureRequests(queue.engine)
    assert requests.pending(HER) == 1
    assert _senders_in(env["tracker_db"], trackers) == {HER, OTHER}  # not during her turn

    locks = InMemoryLockStore()
    async with locks.lock(HER):  # a turn of hers is running
        worker = asyncio.ensure_future(run_pending(trackers, locks))
        await asyncio.sleep(0.3)
        assert not worker.done()
        assert _senders_in(env["tracker_db"], trackers) == {HER, OTHER}
    assert await asyncio.wait_for(worker, 10) == 1

    assert _senders_in(env["tracker_db"], trackers) == {OTHER}
    assert await trackers.retrieve(HER) is None  # the cached copy is gone too
    assert (await trackers.retrieve(OTHER)).latest_message.text == SECRET
    assert requests.pending() == 0
    with queue.engine.connect() as conn:
        sealed = conn.execute(text("SELECT sealed_id, state FROM erasure_requests")).all()
    assert sealed == [(None, "done")]
    assert await run_pending(trackers, locks) == 0
