"""The audit log is hash-chained: an untouched log verifies; editing, deleting or inserting an
entry in the middle is found (the first broken entry is named); the retention purge, which
blanks old details, leaves the chain intact; concurrent appends never fork it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import text

from handoff import audit_chain
from handoff import retention as handoff_retention
from handoff.base import utcnow
from handoff.priority import RISK
from handoff.queue import HandoffQueue
from store.db import make_engine
from store.retention import Horizon


@pytest.fixture
def logged(db_url: str, data_key: str):
    """A queue whose log holds 8 entries (ids 1..8)."""
    engine = make_engine(db_url)
    queue = HandoffQueue(engine)
    agent = queue.create_agent("ana", "una clave larga de prueba")
    ticket = queue.open_ticket("56987651234", "risk", RISK, "riesgo")
    queue.claim(ticket.id, agent.id)
    queue.add_note(ticket.id, agent.id, "nota")
    queue.audit("transcript_read", agent.id, ticket.id)
    queue.close(ticket.id, agent.id, "orientacion")
    queue.audit("report_exported", agent.id, detail="month=2026-11")
    queue.audit("report_exported", agent.id, detail="month=2026-12")
    assert [e.id for e in queue.audit_entries()] == [8, 7, 6, 5, 4, 3, 2, 1]
    yield queue
    engine.dispose()


def _sql(queue: HandoffQueue, statement: str) -> None:
    with queue.engine.begin() as conn:
        conn.execute(text(statement))


def test_an_untouched_log_verifies(logged: HandoffQueue) -> None:
    verdict = audit_chain.verify(logged.engine)
    assert verdict.ok and verdict.checked == 8 and len(verdict.head) == 64


@pytest.mark.parametrize("tampering, broken, intact", [
    ("UPDATE handoff_audit SET action = 'ticket_released' WHERE id = 3", 3, 2),
    ("UPDATE handoff_audit SET agent_id = NULL WHERE id = 4", 4, 3),
    ("UPDATE handoff_audit SET at = '2026-01-01 00:00:00' WHERE id = 5", 5, 4),
    ("UPDATE handoff_audit SET detail = 'month=2026-10' WHERE id = 6", 6, 5),
    ("UPDATE handoff_audit SET chain_hash = NULL WHERE id = 2", 2, 1),
    ("DELETE FROM handoff_audit WHERE id = 4", 5, 3),
])
def test_an_edited_or_deleted_entry_is_found(logged: HandoffQueue, tampering: str,
                                             broken: int, intact: int) -> None:
    _sql(logged, tampering)
    verdict = audit_chain.verify(logged.engine)
    assert not verdict.ok and verdict.broken_id == broken and verdict.checked == intact


def test_an_entry_inserted_in_the_middle_is_found(logged: HandoffQueue) -> None:
    # an insider removes entry 4 and puts another in its place, copying a valid-looking hash
    _sql(logged, "DELETE FROM handoff_audit WHERE id = 4")
    _sql(logged, "INSERT INTO handoff_audit (id, at, agent_id, action, ticket_id, detail, "
                 "detail_mac, chain_hash) SELECT 4, at, agent_id, 'ticket_released', "
                 "ticket_id, detail, detail_mac, chain_hash FROM handoff_audit WHERE id = 3")
    verdict = audit_chain.verify(logged.engine)
    assert (verdict.broken_id, verdict.checked) == (4, 3)


def test_the_purge_blanks_old_details_and_the_chain_still_holds(
        db_url: str, data_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    queue = HandoffQueue.from_env()
    monkeypatch.setattr("handoff.base.utcnow", lambda: utcnow() - timedelta(days=40))
    old = queue.open_ticket("56987651234", "risk", RISK, "riesgo")
    queue.audit("report_exported", detail="month=2026-10")
    monkeypatch.undo()
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("HELPLINE_DATA_KEY", data_key)
    queue.audit("report_exported", detail="month=2026-11")

    assert handoff_retention.purge_audit_details(Horizon()) == 2
    details = [e.detail for e in queue.audit_entries()]
    assert details == ["month=2026-11", None, None]
    assert audit_chain.verify(queue.engine).ok
    # the ticket content purge (its audit line included) keeps it too
    queue.close(old.id, queue.create_agent("sup", "una clave larga", "supervisor").id)
    assert queue.purge_closed(utcnow() + timedelta(seconds=1)) == 1
    assert audit_chain.verify(queue.engine).ok
    # a blanked detail may not come back altered
    _sql(queue, "UPDATE handoff_audit SET detail = 'month=2026-09' WHERE id = 2")
    assert audit_chain.verify(queue.engine).broken_id == 2


def test_concurrent_appends_do_not_fork_the_chain(any_db_url: str, data_key: str) -> None:
    engines = [make_engine(any_db_url) for _ in range(3)]  # three processes, as it were
    try:
        queues = [HandoffQueue(engine) for engine in engines]

        def work(worker: int) -> None:
            queue = queues[worker % len(queues)]
            for n in range(15):
                if n % 5 == 0:
                    queue.open_ticket(f"5690000{worker:02d}{n:02d}", "info", 3, "i")
                else:
                    queue.audit("transcript_read", detail=f"w={worker} n={n}")

        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(work, range(6)))
        verdict = audit_chain.verify(engines[0])
        assert verdict.ok, verdict
        assert verdict.checked == 6 * 15
    finally:
        for engine in engines:
            engine.dispose()


def test_the_verify_command(logged: HandoffQueue, db_url: str,
                            monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert audit_chain.main(["verify"]) == 0
    assert "8 entradas" in capsys.readouterr().out
    _sql(logged, "UPDATE handoff_audit SET ticket_id = NULL WHERE id = 3")
    assert audit_chain.main(["verify"]) == 1
    assert "entrada 3" in capsys.readouterr().err
    assert audit_chain.main([]) == 2


def test_an_unchained_entry_is_never_sealed_after_the_fact(logged: HandoffQueue) -> None:
    # an insider edits the newest entry and removes its hash, hoping the next append or a
    # restart (the upgrade) chains it again
    _sql(logged, "UPDATE handoff_audit SET action = 'ticket_released', chain_hash = NULL "
                 "WHERE id = 8")
    logged.audit("transcript_read")
    HandoffQueue(logged.engine)  # a restart runs the upgrade
    verdict = audit_chain.verify(logged.engine)
    assert (verdict.broken_id, verdict.reason) == (8, "not chained")
