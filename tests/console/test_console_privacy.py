"""Privacy in the console: a supervisor erases her data (confirmed, audited), and a change of
her WhatsApp security code warns the specialist on her open case."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FakeRasa, login, make_agent, page_csrf, start_console
from cryptography.fernet import Fernet

from channels.whatsapp import inbox
from channels.whatsapp.inbound import parse_update
from channels.whatsapp.tables import dispose
from handoff.priority import RISK
from handoff.queue import HandoffQueue
from simulator import webhooks as wh
from store.erasure import ErasureRequests

PHONE = "56944445555"
WARNING = 'id="identity-warning"'


@pytest.fixture
def channel_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The channel's tables in the console's database (as in a real deployment)."""
    url = f"sqlite:///{tmp_path / 'helpline.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HELPLINE_DATA_KEY", Fernet.generate_key().decode())
    yield
    dispose(url)


def _case(queue: HandoffQueue, fake: FakeRasa) -> int:
    fake.trackers[PHONE] = {"sender_id": PHONE, "paused": True, "events": [
        {"event": "user", "text": "mi pareja me controla el celular", "timestamp": 1.0,
         "parse_data": {"intent": {"name": "violencia_psicologica", "confidence": 0.9}}}]}
    ticket = queue.open_ticket(PHONE, "risk", RISK, "violencia_psicologica",
                               safe_contact="no es seguro", screening={"answers": {"a": "sí"}})
    return ticket.id


def test_supervisor_erases_her_data_after_confirming(channel_db, queue: HandoffQueue,
                                                     fake_rasa: FakeRasa) -> None:
    console = start_console(queue, fake_rasa)
    try:
        ticket_id = _case(queue, fake_rasa)
        specialist, supervisor = make_agent(queue, "ana"), make_agent(queue, "sara", "supervisor")
        queue.add_note(ticket_id, specialist, "tiene dos hijos")
        ana = login(console, "ana")
        assert "erase-button" not in ana.get(f"/tickets/{ticket_id}").text
        refused = ana.post(f"/tickets/{ticket_id}/erase",
                           data={"csrf_token": page_csrf(ana), "confirm": "1"})
        assert "msg=not_allowed" in refused.headers["location"]

        sara = login(console, "sara")
        page = sara.get(f"/tickets/{ticket_id}").text
        assert 'id="erase-button"' in page and 'id="erase-confirm"' in page
        unconfirmed = sara.post(f"/tickets/{ticket_id}/erase",
                                data={"csrf_token": page_csrf(sara)})
        assert unconfirmed.headers["location"] == f"/tickets/{ticket_id}?msg=confirm_erase"
        assert queue.get(ticket_id).conversation_id == PHONE

        done = sara.post(f"/tickets/{ticket_id}/erase",
                         data={"csrf_token": page_csrf(sara), "confirm": "1"})
        assert done.headers["location"] == "/?msg=erased"
        ticket = queue.get(ticket_id)
        assert ticket.conversation_id.startswith("purged:") and not ticket.is_open
        assert (ticket.safe_contact, ticket.screening) == (None, None)
        assert queue.notes(ticket_id) == []
        audit = queue.audit_entries(ticket_id)
        assert (audit[0].action, audit[0].agent_id) == ("conversation_erased", supervisor)
        assert ErasureRequests(queue.engine).pending(PHONE) == 1  # her tracker, by Rasa
        again = sara.post(f"/tickets/{ticket_id}/erase",
                          data={"csrf_token": page_csrf(sara), "confirm": "1"})
        assert "msg=already_erased" in again.headers["location"]
    finally:
        console.stop()


def test_security_code_change_warns_on_her_open_case(channel_db, queue: HandoffQueue,
                                                     fake_rasa: FakeRasa) -> None:
    console = start_console(queue, fake_rasa,
                            identity_changes=inbox.recent_identity_changes)
    try:
        ticket_id = _case(queue, fake_rasa)
        make_agent(queue, "ana")
        ana = login(console, "ana")
        ana.post(f"/tickets/{ticket_id}/claim", data={"csrf_token": page_csrf(ana)})
        assert WARNING not in ana.get(f"/tickets/{ticket_id}").text

        inbox.store_update(parse_update(wh.update(messages=[wh.identity_change_message(PHONE)]),
                                        wh.SANDBOX_PHONE_NUMBER_ID))
        page = ana.get(f"/tickets/{ticket_id}").text
        assert WARNING in page
        assert "Su código de seguridad de WhatsApp cambió" in page
        assert PHONE not in page

        ana.post(f"/tickets/{ticket_id}/close", data={
            "csrf_token": page_csrf(ana), "outcome": "orientacion"})
        assert not queue.get(ticket_id).is_open
        assert WARNING not in ana.get(f"/tickets/{ticket_id}").text
    finally:
        console.stop()
