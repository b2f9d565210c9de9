from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import update

from handoff.models import Ticket
from handoff.priority import EMERGENCY, HIGH_RISK, PERSON, RISK
from handoff.queue import HandoffQueue, utcnow
from store.db import make_engine


def _agent(queue: HandoffQueue, name: str, role: str = "specialist") -> int:
    return queue.create_agent(name, "x", role).id


def test_queue_order_priority_then_age(queue: HandoffQueue) -> None:
    a = queue.open_ticket("c1", "other", PERSON, "pedir_persona")
    b = queue.open_ticket("c2", "risk", RISK, "violencia_fisica")
    c = queue.open_ticket("c3", "risk", RISK, "amenazas")
    d = queue.open_ticket("c4", "emergency", EMERGENCY, "emergencia_ahora")
    e = queue.open_ticket("c5", "risk", HIGH_RISK, "estrangulamiento")
    order = [t.id for t in queue.list_waiting()]
    assert order == [d.id, e.id, b.id, c.id, a.id]
    assert [queue.position(t) for t in order] == [1, 2, 3, 4, 5]


def test_open_ticket_is_idempotent_and_only_raises_urgency(queue: HandoffQueue) -> None:
    first = queue.open_ticket("c1", "risk", RISK, "violencia_psicologica")
    again = queue.open_ticket("c1", "other", PERSON, "pedir_persona", safe_contact="después de las 18")
    assert again.id == first.id
    assert again.priority == RISK and again.level == "risk"
    assert again.safe_contact == "después de las 18"
    raised = queue.open_ticket("c1", "risk", HIGH_RISK, "riesgo alto",
                               screening={"answers": {"arma": "si"}, "result": "alto"})
    assert raised.id == first.id and raised.priority == HIGH_RISK
    assert raised.screening_result == "alto"
    assert raised.safe_contact == "después de las 18"
    assert len(queue.list_waiting()) == 1
    assert queue.open_ticket_for("c1").id == first.id
    assert queue.open_ticket_for("nobody") is None


def test_new_ticket_after_close(queue: HandoffQueue) -> None:
    agent = _agent(queue, "ana")
    first = queue.open_ticket("c1", "risk", RISK, "r")
    assert queue.claim(first.id, agent)
    assert queue.close(first.id, agent).status == "closed"
    assert queue.open_ticket_for("c1") is None
    second = queue.open_ticket("c1", "other", PERSON, "pedir_persona")
    assert second.id != first.id and second.status == "waiting"


def test_claim_release_transfer_close(queue: HandoffQueue) -> None:
    ana, bea = _agent(queue, "ana"), _agent(queue, "bea")
    t = queue.open_ticket("c1", "risk", RISK, "r")
    claimed = queue.claim(t.id, ana)
    assert claimed.status == "assigned" and claimed.agent_username == "ana"
    assert queue.claim(t.id, bea) is None
    assert queue.position(t.id) is None
    assert [x.id for x in queue.list_for_agent(ana)] == [t.id]
    assert queue.release(t.id, bea) is None  # not hers
    released = queue.release(t.id, ana)
    assert released.status == "waiting" and released.agent_id is None
    assert released.created_at == t.created_at  # keeps its place
    queue.claim(t.id, ana)
    moved = queue.transfer(t.id, ana, bea)
    assert moved.agent_id == bea
    assert queue.close(t.id, ana) is None  # no longer hers
    assert queue.close(t.id, bea).status == "closed"


def test_reassign_needs_supervisor(queue: HandoffQueue) -> None:
    ana, bea = _agent(queue, "ana"), _agent(queue, "bea")
    sup = _agent(queue, "sara", "supervisor")
    t = queue.open_ticket("c1", "risk", RISK, "r")
    queue.claim(t.id, ana)
    assert queue.reassign(t.id, ana, bea) is None
    assert queue.reassign(t.id, sup, bea).agent_id == bea
    assert queue.close(t.id, sup).status == "closed"


def test_atomic_claim_under_concurrency(db_url: str) -> None:
    setup = HandoffQueue(make_engine(db_url))
    agents = [_agent(setup, f"a{i}") for i in range(8)]
    ticket = setup.open_ticket("c1", "emergency", EMERGENCY, "x")
    barrier = threading.Barrier(len(agents))
    wins: list[int] = []

    def worker(agent_id: int) -> None:
        q = HandoffQueue(make_engine(db_url))  # own engine: separate connections
        barrier.wait()
        if q.claim(ticket.id, agent_id) is not None:
            wins.append(agent_id)

    threads = [threading.Thread(target=worker, args=(a,)) for a in agents]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(wins) == 1
    assert setup.get(ticket.id).agent_id == wins[0]
    claims = [e for e in setup.audit_entries(ticket.id) if e.action == "ticket_claimed"]
    assert len(claims) == 1


def test_escalate_waiting_ticket(queue: HandoffQueue) -> None:
    early = queue.open_ticket("c0", "emergency", EMERGENCY, "x")
    others = [queue.open_ticket(f"c{i}", "risk", RISK, "r") for i in range(1, 4)]
    late = queue.open_ticket("c9", "other", PERSON, "pedir_persona")
    assert queue.position(late.id) == 5
    up = queue.escalate("c9", "emergencia_ahora")
    assert up.priority == EMERGENCY and up.level == "emergency" and up.escalated_at
    assert queue.position(late.id) == 2  # behind the older emergency only
    assert queue.position(early.id) == 1
    assert queue.position(others[0].id) == 3
    assert queue.escalate("unknown", "x") is None
    assert any(e.action == "ticket_escalated" for e in queue.audit_entries(late.id))


def test_escalate_assigned_ticket_keeps_agent(queue: HandoffQueue) -> None:
    ana = _agent(queue, "ana")
    t = queue.open_ticket("c1", "risk", RISK, "r")
    queue.claim(t.id, ana)
    up = queue.escalate("c1", "emergencia_ahora")
    assert up.status == "assigned" and up.agent_id == ana and up.priority == EMERGENCY


def test_online_agents_and_wait_estimate(queue: HandoffQueue) -> None:
    ana = _agent(queue, "ana")
    t = queue.open_ticket("c1", "risk", RISK, "r")
    assert queue.online_agents() == 0
    assert queue.estimated_wait_minutes(t.id) is None  # nobody online
    queue.touch_agent(ana)
    assert queue.online_agents() == 1
    assert queue.estimated_wait_minutes(t.id) is None  # no claim history
    now = utcnow()
    for i in range(12):  # 12 claims in the last 2 hours: one every 10 minutes
        old = queue.open_ticket(f"old{i}", "risk", RISK, "r")
        queue.claim(old.id, ana)
        with queue.engine.begin() as conn:
            conn.execute(update(Ticket).where(Ticket.id == old.id)
                         .values(assigned_at=now - timedelta(minutes=5 * i)))
        if i == 8:  # 9 claims: too few for an honest estimate
            assert queue.estimated_wait_minutes(t.id) is None
    assert queue.position(t.id) == 1
    assert queue.estimated_wait_minutes(t.id) == 10


def test_notes_and_audit(queue: HandoffQueue) -> None:
    ana = _agent(queue, "ana")
    t = queue.open_ticket("c1", "risk", RISK, "r")
    note = queue.add_note(t.id, ana, "  Prefiere que le escriban en la tarde.  ")
    assert note.text == "Prefiere que le escriban en la tarde."
    assert [n.text for n in queue.notes(t.id)] == [note.text]
    entries = queue.audit_entries(t.id)
    assert {e.action for e in entries} >= {"ticket_opened", "note_added"}
    assert all("tarde" not in (e.detail or "") for e in entries)


def test_reason_is_short(queue: HandoffQueue) -> None:
    t = queue.open_ticket("c1", "risk", RISK, "x" * 1000)
    assert len(t.reason) <= 200
