"""Casework across the queue and Rasa: compensation when the second step fails, the event
loop never blocked by the database, delivery reports, follow-ups after 24 hours."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone

import httpx
from conftest import (
    FakeRasa,
    RunningConsole,
    console_settings,
    login,
    make_agent,
    page_csrf,
    start_console,
)
from sqlalchemy import update

from console.delivery import Delivery, OutboundState
from handoff.models import Ticket
from handoff.priority import EMERGENCY, RISK
from handoff.queue import HandoffQueue

PHONE = "56922223333"


def tracker(fake: FakeRasa, *events: dict, paused: bool = True) -> None:
    fake.trackers[PHONE] = {"sender_id": PHONE, "paused": paused, "events": list(events)}


def user(text: str, intent: str, ts: float) -> dict:
    return {"event": "user", "text": text, "timestamp": ts,
            "parse_data": {"intent": {"name": intent, "confidence": 0.9}}}


def ask_contact(ts: float) -> list[dict]:
    return [{"event": "bot", "text": "¿Es seguro que te escriba a este número?",
             "timestamp": ts, "data": {"buttons": [
                 {"title": "Sí, es seguro", "payload": "/afirmar"},
                 {"title": "No es seguro", "payload": "/negar"}]}},
            user("/afirmar", "afirmar", ts + 1),
            {"event": "slot", "name": "contacto_seguro", "value": "sí, es seguro",
             "timestamp": ts + 1}]


def claimed(console: RunningConsole, fake: FakeRasa) -> tuple[httpx.Client, int]:
    make_agent(console.queue, "ana")
    ticket = console.queue.open_ticket(PHONE, "risk", RISK, "violencia_fisica")
    client = login(console, "ana")
    response = client.post(f"/tickets/{ticket.id}/claim", data={"csrf_token": page_csrf(client)})
    assert response.headers["location"] == f"/tickets/{ticket.id}?msg=claimed"
    return client, ticket.id


# ------------------------------------------------------------------ compensation
def test_claim_is_undone_when_the_bot_cannot_be_paused(console: RunningConsole,
                                                       fake_rasa: FakeRasa) -> None:
    tracker(fake_rasa, paused=False)
    agent = make_agent(console.queue, "ana")
    ticket = console.queue.open_ticket(PHONE, "emergency", EMERGENCY, "emergencia_ahora")
    fake_rasa.fail_events = {"pause"}
    client = login(console, "ana")
    response = client.post(f"/tickets/{ticket.id}/claim", data={"csrf_token": page_csrf(client)})
    assert response.headers["location"] == "/?msg=pause_failed"
    assert "no se pudo silenciar" in client.get(response.headers["location"]).text.lower()
    after = console.queue.get(ticket.id)
    assert after.status == "waiting" and after.agent_id is None  # back in the queue
    assert console.queue.position(ticket.id) == 1  # in its place
    actions = [e.action for e in console.queue.audit_entries(ticket.id)]
    assert "pause_failed" in actions and "claim_undone" in actions
    assert all(e.agent_id == agent for e in console.queue.audit_entries(ticket.id)
               if e.action == "claim_undone")
    fake_rasa.fail_events = set()
    response = client.post(f"/tickets/{ticket.id}/claim", data={"csrf_token": page_csrf(client)})
    assert response.headers["location"].endswith("msg=claimed")


class CloseFails(HandoffQueue):
    """A queue whose close loses the race (as if the row changed under it)."""

    def close(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        return None


def test_the_bot_is_paused_again_when_the_ticket_cannot_be_closed(
    tmp_path, fake_rasa: FakeRasa
) -> None:
    from store.db import make_engine

    queue = CloseFails(make_engine(f"sqlite:///{tmp_path / 'h.db'}"))
    console = start_console(queue, fake_rasa)
    try:
        tracker(fake_rasa)
        client, ticket_id = claimed(console, fake_rasa)
        fake_rasa.posted.clear()
        response = client.post(f"/tickets/{ticket_id}/close", data={
            "csrf_token": page_csrf(client, f"/tickets/{ticket_id}"), "outcome": "orientacion"})
        assert response.headers["location"] == f"/tickets/{ticket_id}?msg=close_inconsistent"
        assert [e["event"] for e in fake_rasa.events_for(PHONE)] == ["resume", "pause"]
        assert queue.get(ticket_id).status == "assigned"
        assert "conversation_repaused" in [e.action for e in queue.audit_entries(ticket_id)]
    finally:
        console.stop()


def test_a_goodbye_that_fails_changes_nothing(console: RunningConsole,
                                              fake_rasa: FakeRasa) -> None:
    tracker(fake_rasa, user("hola", "saludar", time.time()))
    client, ticket_id = claimed(console, fake_rasa)
    fake_rasa.fail_events = {"bot"}
    response = client.post(f"/tickets/{ticket_id}/close", data={
        "csrf_token": page_csrf(client, f"/tickets/{ticket_id}"), "outcome": "orientacion",
        "send_goodbye": "1"})
    assert response.headers["location"].endswith("msg=rasa_down")
    assert console.queue.get(ticket_id).status == "assigned"
    assert not any(e["event"] == "resume" for e in fake_rasa.events_for(PHONE))


# ---------------------------------------------------------------- event loop
def test_a_locked_database_never_freezes_the_console(console: RunningConsole,
                                                     fake_rasa: FakeRasa, tmp_path) -> None:
    """A write waiting for SQLite's lock runs in the thread pool: other requests go on."""
    tracker(fake_rasa)
    make_agent(console.queue, "ana")
    ticket = console.queue.open_ticket(PHONE, "risk", RISK, "r")
    client = login(console, "ana")
    csrf = page_csrf(client)
    blocker = sqlite3.connect(tmp_path / "helpline.db", timeout=1)
    blocker.execute("BEGIN EXCLUSIVE")  # like another process in the middle of a write
    result: dict[str, str] = {}

    def claim() -> None:
        answer = client.post(f"/tickets/{ticket.id}/claim", data={"csrf_token": csrf},
                             timeout=60)
        result["claim"] = answer.headers.get("location", str(answer.status_code))

    worker = threading.Thread(target=claim)
    try:
        worker.start()
        time.sleep(0.5)  # the claim is now waiting for the lock
        with httpx.Client(base_url=console.url, timeout=10) as other:
            assert other.get("/healthz").json() == {"ok": True}
            assert other.get("/login").status_code == 200
        assert worker.is_alive() and "claim" not in result  # still waiting, not frozen
    finally:
        blocker.rollback()
        blocker.close()
    worker.join(30)
    assert result["claim"] == f"/tickets/{ticket.id}?msg=claimed"


# ------------------------------------------------------------------- delivery
class Outbox:
    def __init__(self, fake: FakeRasa, state: OutboundState) -> None:
        self.fake, self.state, self.refs = fake, state, []

    def states_for(self, conversation_id: str, ref: str) -> list[OutboundState]:
        sent = [p["body"]["metadata"].get("client_ref") for p in self.fake.posted
                if p["body"].get("event") == "bot"]
        self.refs.append(ref)
        return [self.state] if ref in sent else []


def test_a_message_that_did_not_leave_says_so_with_metas_meaning(queue, fake_rasa) -> None:
    outbox = Outbox(fake_rasa, OutboundState("failed", 131026))
    console = start_console(queue, fake_rasa, delivery=Delivery(outbox, wait_seconds=1,
                                                                poll_seconds=0.05))
    try:
        tracker(fake_rasa, user("hola", "saludar", time.time()))
        client, ticket_id = claimed(console, fake_rasa)
        response = client.post(f"/tickets/{ticket_id}/reply", data={
            "csrf_token": page_csrf(client, f"/tickets/{ticket_id}"), "text": "Hola, soy Ana."})
        location = response.headers["location"]
        assert location == f"/tickets/{ticket_id}?code=131026&msg=not_sent"
        flash = client.get(location).text
        assert "No se envió. No se pudo entregar: el número no usa WhatsApp" in flash
        assert "Mensaje enviado" not in flash
        assert queue.get(ticket_id).first_reply_at is None
        assert any(e.action == "reply_failed" and "131026" in e.detail
                   for e in queue.audit_entries(ticket_id))
        outbox.state = OutboundState("sent")
        response = client.post(f"/tickets/{ticket_id}/reply", data={
            "csrf_token": page_csrf(client, f"/tickets/{ticket_id}"), "text": "¿Estás bien?"})
        assert response.headers["location"].endswith("msg=sent")
        assert "WhatsApp lo aceptó" in client.get(response.headers["location"]).text
    finally:
        console.stop()


# ----------------------------------------------------------------- follow-up
def closed_case(console: RunningConsole, fake: FakeRasa, events: list[dict],
                hours_ago: float = 25) -> tuple[httpx.Client, int]:
    tracker(fake, *events)
    client, ticket_id = claimed(console, fake)
    response = client.post(f"/tickets/{ticket_id}/close", data={
        "csrf_token": page_csrf(client, f"/tickets/{ticket_id}"), "outcome": "orientacion"})
    assert response.headers["location"] == "/?msg=closed"
    opened = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=hours_ago + 1)
    with console.queue.engine.begin() as conn:
        conn.execute(update(Ticket).where(Ticket.id == ticket_id).values(created_at=opened))
    # a closed case opens with a reason (tests/console/test_console_hardening.py)
    given = client.post(f"/tickets/{ticket_id}/read-closed",
                        data={"csrf_token": page_csrf(client), "reason": "seguimiento"})
    assert given.headers["location"].endswith("msg=reason_given")
    return client, ticket_id


def follow_up(client: httpx.Client, ticket_id: int) -> str:
    return client.post(f"/tickets/{ticket_id}/follow-up", data={
        "csrf_token": page_csrf(client, f"/tickets/{ticket_id}")}).headers["location"]


def with_template(queue, fake_rasa) -> RunningConsole:
    return start_console(queue, fake_rasa, settings=console_settings(
        fake_rasa, template_name="seguimiento_24h", template_language="es_CL"))


def test_follow_up_after_24_hours_goes_as_the_template(queue, fake_rasa) -> None:
    console = with_template(queue, fake_rasa)
    try:
        long_ago = time.time() - 26 * 3600
        client, ticket_id = closed_case(console, fake_rasa, ask_contact(long_ago))
        page = client.get(f"/tickets/{ticket_id}").text
        assert 'id="follow-up-button"' in page
        fake_rasa.posted.clear()
        assert follow_up(client, ticket_id).endswith("msg=follow_up_sent")
        [posted] = fake_rasa.posted
        assert posted["query"]["output_channel"] == "whatsapp"
        assert posted["body"]["text"] is None
        assert posted["body"]["data"]["custom"]["whatsapp"] == {
            "type": "template",
            "template": {"name": "seguimiento_24h", "language": {"code": "es_CL"}}}
        assert posted["body"]["metadata"]["source"] == "console_follow_up"
        # once per case; the page says why not again
        assert follow_up(client, ticket_id).endswith("msg=follow_up_refused")
        page = client.get(f"/tickets/{ticket_id}").text
        assert "Ya se envió un seguimiento" in page and 'id="follow-up-button"' not in page
        assert "Seguimiento enviado con la plantilla" in page  # in the transcript
    finally:
        console.stop()


def test_no_follow_up_after_no_me_escriban(queue, fake_rasa) -> None:
    console = with_template(queue, fake_rasa)
    try:
        long_ago = time.time() - 26 * 3600
        events = ask_contact(long_ago) + [user("no me escriban", "no_escribir", long_ago + 5)]
        client, ticket_id = closed_case(console, fake_rasa, events)
        count = len(fake_rasa.posted)
        assert follow_up(client, ticket_id).endswith("msg=follow_up_refused")
        assert len(fake_rasa.posted) == count
        page = client.get(f"/tickets/{ticket_id}").text
        assert "no me escriban" in page and 'id="no-contact"' in page
    finally:
        console.stop()


def test_no_follow_up_when_she_asked_through_the_bot(queue, fake_rasa) -> None:
    """action_no_escribir stored it in the queue; the tracker may no longer show it."""
    console = with_template(queue, fake_rasa)
    try:
        client, ticket_id = closed_case(console, fake_rasa,
                                        ask_contact(time.time() - 30 * 3600))
        queue.set_no_contact(PHONE)
        assert follow_up(client, ticket_id).endswith("msg=follow_up_refused")
    finally:
        console.stop()


def test_follow_up_reasons_on_the_page(queue, fake_rasa) -> None:
    console = start_console(queue, fake_rasa)  # no template configured
    try:
        client, ticket_id = closed_case(console, fake_rasa,
                                        ask_contact(time.time() - 26 * 3600))
        page = client.get(f"/tickets/{ticket_id}").text
        assert "no hay plantilla de seguimiento configurada" in page
        assert follow_up(client, ticket_id).endswith("msg=follow_up_refused")
    finally:
        console.stop()
    console = with_template(queue, fake_rasa)
    try:
        recent = time.time() - 3600
        fake_rasa.trackers[PHONE]["events"] = ask_contact(recent)
        ticket_id = queue.list_closed(datetime(2000, 1, 1))[0].id
        client = login(console, "ana")
        client.post(f"/tickets/{ticket_id}/read-closed",
                    data={"csrf_token": page_csrf(client), "reason": "seguimiento"})
        page = client.get(f"/tickets/{ticket_id}").text
        assert "24 horas después de su último mensaje" in page  # too soon: a normal reply
    finally:
        console.stop()
