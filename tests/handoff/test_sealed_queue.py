"""The queue's personal data is sealed at rest: a copy of the database (every cell of every
table, and the SQLite file's bytes) shows neither her number nor her answers nor the notes,
while the queue's API keeps serving the plain values; old keys still read after a rotation;
and a database an older version filled in clear is sealed in place on start."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from handoff import audit_chain
from handoff.priority import EMERGENCY, RISK
from handoff.queue import HandoffQueue
from store.crypto import InvalidToken
from store.db import make_engine
from tests.store.raw import every_cell, leaks

PHONE = "56987651234"
OTHER = "56911223344"
CONTACT = "solo después de las 22, cuando él duerme"
ANSWER = "me dijo que me iba a matar"
NOTE = "la vecina Rosalía guarda una copia de las llaves"
REASON = "Relato de violencia: violencia sexual"
SECRETS = [PHONE, OTHER, CONTACT, ANSWER, NOTE, REASON]
SCREENING = {"answers": {"amenaza_muerte": ANSWER}, "result": "alto"}


def _fill(queue: HandoffQueue) -> int:
    agent = queue.create_agent("ana", "una clave larga de prueba")
    first = queue.open_ticket(PHONE, "risk", RISK, "riesgo", safe_contact=CONTACT,
                              screening=SCREENING, region="Biobío")
    queue.claim(first.id, agent.id)
    queue.add_note(first.id, agent.id, NOTE)
    queue.close(first.id, agent.id, "orientacion")
    second = queue.open_ticket(PHONE, "risk", RISK, "otra vez", safe_contact=CONTACT)
    queue.escalate(PHONE, "emergencia_ahora")
    queue.open_ticket(OTHER, "risk", RISK, REASON, screening=SCREENING)
    queue.set_no_contact(PHONE)
    return second.id


def test_a_copy_of_the_database_shows_no_number_and_no_answers(any_db_url: str,
                                                               data_key: str) -> None:
    engine = make_engine(any_db_url)
    try:
        queue = HandoffQueue(engine)
        second = _fill(queue)
        # through the API everything reads in clear, and lookups by number still work
        found = queue.open_ticket_for(PHONE)
        assert found.id == second and found.priority == EMERGENCY
        assert (found.conversation_id, found.safe_contact) == (PHONE, CONTACT)
        assert [n.text for n in queue.notes(second)] == [NOTE]  # the earlier ticket's note
        assert (queue.open_ticket_for(OTHER).screening, queue.open_ticket_for(OTHER).reason) \
            == (SCREENING, REASON)
        assert queue.held_conversations(queue.get(second).created_at) == {PHONE, OTHER}
        # at rest: nothing
        assert leaks(any_db_url, SECRETS) == []
        assert not any(PHONE in cell for cell in every_cell(any_db_url))
        assert audit_chain.verify(engine).ok
    finally:
        engine.dispose()


def test_erasure_still_finds_her_tickets_by_key(db_url: str, data_key: str) -> None:
    engine = make_engine(db_url)
    try:
        queue = HandoffQueue(engine)
        second = _fill(queue)
        assert sorted(queue.erase_conversation(PHONE)) == [second - 1, second]
        assert queue.open_ticket_for(PHONE) is None and queue.notes(second) == []
        assert queue.get(second).conversation_id == f"purged:{second}"
        assert queue.open_ticket_for(OTHER) is not None
    finally:
        engine.dispose()


def test_values_sealed_with_an_older_key_still_read(db_url: str, data_key: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(db_url)
    try:
        second = _fill(HandoffQueue(engine))
        newer = Fernet.generate_key().decode()
        monkeypatch.setenv("HELPLINE_DATA_KEY", f"{newer},{data_key}")
        queue = HandoffQueue(engine)
        ticket = queue.open_ticket_for(PHONE)  # the lookup key survives the rotation
        assert ticket.id == second and ticket.safe_contact == CONTACT
        queue.add_note(second, None, "nota nueva")
        monkeypatch.setenv("HELPLINE_DATA_KEY", newer)  # the old key is gone: no reading
        with pytest.raises(InvalidToken):
            HandoffQueue(engine).get(second)
        monkeypatch.setenv("HELPLINE_DATA_KEY", f"{newer},{data_key}")
        assert [n.text for n in queue.notes(second)] == [NOTE, "nota nueva"]
        assert audit_chain.verify(engine).ok
    finally:
        engine.dispose()


# ------------------------------------------------------------------------ upgrade
OLD_SCHEMA = """
CREATE TABLE handoff_agents (id INTEGER PRIMARY KEY, username VARCHAR(64) NOT NULL UNIQUE,
  password_hash VARCHAR(256) NOT NULL, role VARCHAR(16) NOT NULL, last_seen_at TIMESTAMP,
  active BOOLEAN NOT NULL);
CREATE TABLE handoff_tickets (id INTEGER PRIMARY KEY, conversation_id VARCHAR(128) NOT NULL,
  status VARCHAR(16) NOT NULL, level VARCHAR(16) NOT NULL, priority INTEGER NOT NULL,
  reason VARCHAR(200) NOT NULL, safe_contact VARCHAR(200), screening JSON,
  agent_id INTEGER REFERENCES handoff_agents(id), created_at TIMESTAMP NOT NULL,
  assigned_at TIMESTAMP, closed_at TIMESTAMP, escalated_at TIMESTAMP);
CREATE TABLE handoff_notes (id INTEGER PRIMARY KEY,
  ticket_id INTEGER NOT NULL REFERENCES handoff_tickets(id),
  agent_id INTEGER REFERENCES handoff_agents(id), text TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL);
CREATE TABLE handoff_audit (id INTEGER PRIMARY KEY, at TIMESTAMP NOT NULL, agent_id INTEGER,
  action VARCHAR(64) NOT NULL, ticket_id INTEGER, detail VARCHAR(500));
CREATE UNIQUE INDEX uq_handoff_open_ticket ON handoff_tickets (conversation_id)
  WHERE status != 'closed';
CREATE INDEX ix_handoff_tickets_conversation_status ON handoff_tickets (conversation_id, status);
INSERT INTO handoff_agents VALUES (1, 'ana', 'scrypt$x', 'specialist', NULL, true);
INSERT INTO handoff_tickets VALUES (1, '56987651234', 'closed', 'risk', 3,
  'Relato de violencia: violencia sexual',
  'solo después de las 22, cuando él duerme',
  '{"answers": {"amenaza_muerte": "me dijo que me iba a matar"}, "result": "alto"}', 1,
  '2026-03-01 12:00:00', '2026-03-01 12:05:00', '2026-03-01 13:00:00', NULL);
INSERT INTO handoff_tickets VALUES (2, '56987651234', 'assigned', 'risk', 3, 'r', NULL, 'null',
  1, '2026-03-02 12:00:00', '2026-03-02 12:05:00', NULL, NULL);
INSERT INTO handoff_tickets VALUES (3, '56911223344', 'waiting', 'info', 4, 'i', NULL, NULL,
  NULL, '2026-03-02 12:00:00', NULL, NULL, NULL);
INSERT INTO handoff_notes VALUES (1, 1, 1, 'la vecina Rosalía guarda una copia de las llaves',
  '2026-03-01 12:30:00');
INSERT INTO handoff_audit VALUES (1, '2026-03-01 12:00:00', NULL, 'ticket_opened', 1,
  'level=risk priority=3');
INSERT INTO handoff_audit VALUES (2, '2026-03-01 12:05:00', 1, 'ticket_claimed', 1, NULL);
"""


def _create_old_database(engine) -> None:
    postgres = engine.dialect.name == "postgresql"
    schema = OLD_SCHEMA.replace("INTEGER PRIMARY KEY", "SERIAL PRIMARY KEY") if postgres \
        else OLD_SCHEMA
    with engine.begin() as conn:
        for statement in schema.split(";"):
            if statement.strip():
                conn.execute(text(statement))
        for table in ("handoff_agents", "handoff_tickets", "handoff_notes", "handoff_audit"):
            if postgres:  # rows were inserted with explicit ids
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))


def test_a_database_in_clear_is_sealed_in_place(any_db_url: str, data_key: str) -> None:
    engine = make_engine(any_db_url)
    try:
        _create_old_database(engine)
        in_clear = [PHONE, CONTACT, ANSWER, NOTE, REASON]
        assert leaks(any_db_url, in_clear) == in_clear
        queue = HandoffQueue(engine)  # upgrades on start
        assert leaks(any_db_url, SECRETS) == []
        indexes = {i["name"] for i in inspect(engine).get_indexes("handoff_tickets")}
        assert "ix_handoff_tickets_conversation_key_status" in indexes
        assert not indexes & {"uq_handoff_open_ticket", "ix_handoff_tickets_conversation_status"}
        with pytest.raises(IntegrityError), engine.begin() as conn:  # one open ticket per key
            conn.execute(text(
                "INSERT INTO handoff_tickets (id, conversation_id, conversation_key, status, level,"
                " priority, reason, created_at) SELECT 10, conversation_id, conversation_key, "
                "'waiting', level, priority, reason, created_at FROM handoff_tickets WHERE id = 2"))
        ticket = queue.open_ticket_for(PHONE)
        assert ticket.id == 2 and ticket.screening is None
        old = queue.get(1)
        assert (old.conversation_id, old.safe_contact, old.screening, old.reason) == (
            PHONE, CONTACT, SCREENING, REASON)
        assert [n.text for n in queue.notes(2)] == [NOTE]
        assert queue.open_ticket_for(OTHER).id == 3
        # the open-ticket rule now holds on the key: a second open ticket is an update
        assert queue.open_ticket(PHONE, "emergency", EMERGENCY, "e").id == 2
        # the old audit entries were chained, and the chain goes on
        verdict = audit_chain.verify(engine)
        assert verdict.ok and verdict.checked == 3
        assert HandoffQueue(engine).get(1).safe_contact == CONTACT  # idempotent
        assert audit_chain.verify(engine).ok
    finally:
        engine.dispose()
