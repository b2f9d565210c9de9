from __future__ import annotations

import re
import threading
import time

import httpx
from conftest import FakeRasa, RunningConsole, login, make_agent, page_csrf

from console.app import GOODBYE_TEXT
from handoff.priority import EMERGENCY, HIGH_RISK, PERSON, RISK

PHONE = "56911112222"


def user(text: str, intent: str, ts: float, level: str | None = None, **metadata) -> dict:
    parse_data = {"intent": {"name": intent, "confidence": 0.9}, "entities": []}
    if level:
        parse_data["triage"] = {"level": level, "handoff": True}
    return {"event": "user", "text": text, "timestamp": ts, "parse_data": parse_data,
            "metadata": metadata, "input_channel": "whatsapp"}


def bot(text: str, ts: float) -> dict:
    return {"event": "bot", "text": text, "timestamp": ts, "metadata": {}}


def setup_claimed(console: RunningConsole, fake: FakeRasa, safe_contact: str | None = None,
                  last_user_age: float = 60) -> tuple[httpx.Client, int, int]:
    now = time.time()
    fake.trackers[PHONE] = {"sender_id": PHONE, "events": [
        user("hola", "saludar", now - 600),
        bot("Hola, estoy aquí para ayudarte.", now - 599),
        user("me pegó anoche", "violencia_fisica", now - 500, level="risk"),
        {"event": "pause", "timestamp": now - 499},
        user("", "informar_ubicacion", now - 400,
             location={"latitude": -33.45, "longitude": -70.66, "name": "Santiago"}),
        user("", "nlu_fallback", now - 300, media_type="audio"),
        user("viene para acá con un cuchillo", "emergencia_ahora", now - last_user_age),
    ]}
    agent_id = make_agent(console.queue, "ana")
    ticket = console.queue.open_ticket(PHONE, "risk", RISK, "violencia_fisica",
                                       safe_contact=safe_contact)
    client = login(console, "ana")
    response = client.post(f"/tickets/{ticket.id}/claim", data={"csrf_token": page_csrf(client)})
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/tickets/{ticket.id}")
    return client, ticket.id, agent_id


def test_queue_page_and_api_show_waiting_in_order(console: RunningConsole) -> None:
    q = console.queue
    make_agent(q, "ana")
    person = q.open_ticket("c1", "other", PERSON, "pedir_persona", safe_contact="sí, cuando quiera")
    risk = q.open_ticket("c2", "risk", HIGH_RISK, "amenazas",
                         screening={"answers": {"arma": "sí"}, "result": "alto"})
    emergency = q.open_ticket("c3", "emergency", EMERGENCY, "emergencia_ahora",
                              safe_contact="no, él revisa mi celular")
    client = login(console, "ana")
    state = client.get("/api/queue").json()
    assert [t["id"] for t in state["waiting"]] == [emergency.id, risk.id, person.id]
    first = state["waiting"][0]
    assert first["priority_label"] == "Emergencia" and first["alert"] and first["unsafe"]
    assert state["waiting"][1]["screening_result"] == "alto"
    assert state["alerts"] == [{"id": emergency.id, "status": "waiting"}]
    assert "c3" not in str(state)  # conversation ids (phone numbers) are never shown
    page = client.get("/").text
    assert page.index(f'id="ticket-{emergency.id}"') < page.index(f'id="ticket-{risk.id}"')
    for text in ("emergencia_ahora", "amenazas", "alto", "no, él revisa mi celular",
                 'id="emergency-banner"', f'id="claim-{person.id}"'):
        assert text in page


def test_claim_is_exclusive(console: RunningConsole) -> None:
    q = console.queue
    ana, bea = make_agent(q, "ana"), make_agent(q, "bea")
    ticket = q.open_ticket("c1", "risk", RISK, "r")
    clients = [login(console, "ana"), login(console, "bea")]
    tokens = [page_csrf(c) for c in clients]
    barrier = threading.Barrier(2)
    results: list[str] = []

    def claim(i: int) -> None:
        barrier.wait()
        response = clients[i].post(f"/tickets/{ticket.id}/claim", data={"csrf_token": tokens[i]})
        results.append(response.headers["location"])

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted(["/?msg=claim_lost", f"/tickets/{ticket.id}?msg=claimed"])
    assert q.get(ticket.id).agent_id in (ana, bea)
    # the loser cannot open the conversation
    loser = clients[0] if q.get(ticket.id).agent_id == bea else clients[1]
    assert loser.get(f"/tickets/{ticket.id}").headers["location"] == "/?msg=not_allowed"


def test_conversation_view_shows_transcript(console: RunningConsole, fake_rasa: FakeRasa) -> None:
    client, ticket_id, _ = setup_claimed(console, fake_rasa, safe_contact="después de las 19 h")
    page = client.get(f"/tickets/{ticket_id}")
    assert page.status_code == 200
    html = page.text
    for text in ("me pegó anoche", "Hola, estoy aquí para ayudarte.", "Santiago",
                 "-33.45000, -70.66000", "Nota de voz o audio", "Emergencia", "Riesgo",
                 "después de las 19 h", 'id="reply-form"', 'id="close-button"'):
        assert text in html, text
    assert 'id="unsafe-warning"' not in html
    assert re.search(r'id="window-warning"[^>]*hidden', html)
    api = client.get(f"/api/tickets/{ticket_id}").json()
    levels = [line["level"] for line in api["lines"] if line["kind"] == "user"]
    assert levels == ["other", "risk", "other", "other", "emergency"]
    assert api["window_open"] is True
    assert PHONE not in html and "rasa-secret-token" not in html


def test_reply_goes_through_rasa(console: RunningConsole, fake_rasa: FakeRasa) -> None:
    client, ticket_id, agent_id = setup_claimed(console, fake_rasa)
    csrf = page_csrf(client, f"/tickets/{ticket_id}")
    response = client.post(f"/tickets/{ticket_id}/reply",
                           data={"csrf_token": csrf, "text": "Estoy contigo. ¿Puedes salir?"})
    assert response.headers["location"] == f"/tickets/{ticket_id}?msg=sent"
    posted = fake_rasa.posted[-1]
    assert posted["conversation_id"] == PHONE
    assert posted["query"]["output_channel"] == "whatsapp"
    assert posted["query"]["execute_side_effects"] == "true"
    assert posted["body"]["event"] == "bot"
    assert posted["body"]["text"] == "Estoy contigo. ¿Puedes salir?"
    # a canned answer
    client.post(f"/tickets/{ticket_id}/reply", data={"csrf_token": csrf, "canned": "emergencia"})
    assert "133" in fake_rasa.posted[-1]["body"]["text"]
    entries = [e for e in console.queue.audit_entries(ticket_id) if e.action == "reply_sent"]
    assert len(entries) == 2 and all(e.agent_id == agent_id for e in entries)
    assert all("salir" not in (e.detail or "") for e in console.queue.audit_entries())
    # empty replies are not sent
    count = len(fake_rasa.posted)
    client.post(f"/tickets/{ticket_id}/reply", data={"csrf_token": csrf, "text": "  "})
    assert len(fake_rasa.posted) == count


def test_reply_refused_when_window_closed(console: RunningConsole, fake_rasa: FakeRasa) -> None:
    client, ticket_id, _ = setup_claimed(console, fake_rasa, last_user_age=25 * 3600)
    page = client.get(f"/tickets/{ticket_id}").text
    assert not re.search(r'id="window-warning"[^>]*hidden', page)
    count = len(fake_rasa.posted)
    response = client.post(f"/tickets/{ticket_id}/reply",
                           data={"csrf_token": page_csrf(client, f"/tickets/{ticket_id}"),
                                 "text": "hola"})
    assert response.headers["location"].endswith("msg=window_closed")
    assert len(fake_rasa.posted) == count
    assert client.get(f"/api/tickets/{ticket_id}").json()["window_open"] is False


def test_unsafe_contact_needs_confirmation(console: RunningConsole, fake_rasa: FakeRasa) -> None:
    client, ticket_id, _ = setup_claimed(console, fake_rasa, safe_contact="No, él revisa mi celular")
    page = client.get(f"/tickets/{ticket_id}").text
    assert 'id="unsafe-warning"' in page and 'id="confirm-unsafe"' in page
    csrf = page_csrf(client, f"/tickets/{ticket_id}")
    count = len(fake_rasa.posted)
    response = client.post(f"/tickets/{ticket_id}/reply", data={"csrf_token": csrf, "text": "hola"})
    assert response.headers["location"].endswith("msg=confirm_unsafe")
    assert len(fake_rasa.posted) == count
    client.post(f"/tickets/{ticket_id}/reply",
                data={"csrf_token": csrf, "text": "hola", "confirm_unsafe": "1"})
    assert len(fake_rasa.posted) == count + 1


def test_close_sends_goodbye_then_resume(console: RunningConsole, fake_rasa: FakeRasa) -> None:
    client, ticket_id, agent_id = setup_claimed(console, fake_rasa)
    fake_rasa.posted.clear()
    response = client.post(f"/tickets/{ticket_id}/close",
                           data={"csrf_token": page_csrf(client, f"/tickets/{ticket_id}"),
                                 "send_goodbye": "1"})
    assert response.headers["location"] == "/?msg=closed"
    events = fake_rasa.events_for(PHONE)
    assert [e["event"] for e in events] == ["bot", "resume"]
    assert events[0]["text"] == GOODBYE_TEXT
    assert fake_rasa.posted[0]["query"]["output_channel"] == "whatsapp"
    ticket = console.queue.get(ticket_id)
    assert ticket.status == "closed" and ticket.closed_at is not None
    assert console.queue.open_ticket_for(PHONE) is None
    actions = {e.action for e in console.queue.audit_entries(ticket_id)}
    assert {"goodbye_sent", "conversation_resumed", "ticket_closed"} <= actions


def test_close_without_goodbye_and_when_rasa_is_down(
    console: RunningConsole, fake_rasa: FakeRasa
) -> None:
    client, ticket_id, _ = setup_claimed(console, fake_rasa)
    csrf = page_csrf(client, f"/tickets/{ticket_id}")
    fake_rasa.fail = True
    response = client.post(f"/tickets/{ticket_id}/close", data={"csrf_token": csrf})
    assert response.headers["location"].endswith("msg=rasa_down")
    assert console.queue.get(ticket_id).status == "assigned"  # nothing half-done
    assert "transcript-error" in client.get(f"/tickets/{ticket_id}").text
    fake_rasa.fail = False
    fake_rasa.posted.clear()
    client.post(f"/tickets/{ticket_id}/close", data={"csrf_token": csrf})
    assert [e["event"] for e in fake_rasa.events_for(PHONE)] == ["resume"]
    assert console.queue.get(ticket_id).status == "closed"


def test_notes_release_transfer(console: RunningConsole, fake_rasa: FakeRasa) -> None:
    client, ticket_id, agent_id = setup_claimed(console, fake_rasa)
    bea = make_agent(console.queue, "bea")
    csrf = page_csrf(client, f"/tickets/{ticket_id}")
    client.post(f"/tickets/{ticket_id}/notes", data={"csrf_token": csrf,
                                                     "text": "Tiene dos hijos pequeños."})
    assert "Tiene dos hijos pequeños." in client.get(f"/tickets/{ticket_id}").text
    assert all("hijos" not in (e.detail or "") for e in console.queue.audit_entries())
    response = client.post(f"/tickets/{ticket_id}/release", data={"csrf_token": csrf})
    assert response.headers["location"] == "/?msg=released"
    assert console.queue.get(ticket_id).status == "waiting"
    client.post(f"/tickets/{ticket_id}/claim", data={"csrf_token": csrf})
    response = client.post(f"/tickets/{ticket_id}/transfer",
                           data={"csrf_token": csrf, "to_agent": str(bea)})
    assert response.headers["location"] == "/?msg=transferred"
    assert console.queue.get(ticket_id).agent_id == bea
    # ana no longer holds it: no reply, no view
    response = client.post(f"/tickets/{ticket_id}/reply", data={"csrf_token": csrf, "text": "x"})
    assert response.headers["location"] == "/?msg=not_allowed"
    actions = [e.action for e in console.queue.audit_entries(ticket_id)]
    for action in ("ticket_opened", "ticket_claimed", "conversation_viewed", "note_added",
                   "ticket_released", "ticket_transferred"):
        assert action in actions, action


def test_supervisor_sees_all_and_reassigns(console: RunningConsole, fake_rasa: FakeRasa) -> None:
    client, ticket_id, agent_id = setup_claimed(console, fake_rasa)
    make_agent(console.queue, "sara", "supervisor")
    bea = make_agent(console.queue, "bea")
    sup = login(console, "sara")
    state = sup.get("/api/queue").json()
    assert [t["id"] for t in state["assigned"]] == [ticket_id]
    assert sup.get(f"/tickets/{ticket_id}").status_code == 200
    csrf = page_csrf(sup)
    response = sup.post(f"/tickets/{ticket_id}/transfer", data={"csrf_token": csrf,
                                                                "to_agent": str(bea)})
    assert response.headers["location"] == "/?msg=reassigned"
    assert console.queue.get(ticket_id).agent_id == bea
    audit = sup.get("/audit")
    assert audit.status_code == 200 and "ticket_reassigned" in audit.text
    assert client.get("/audit").status_code == 403


def test_escalated_assigned_ticket_alerts_its_specialist(
    console: RunningConsole, fake_rasa: FakeRasa
) -> None:
    client, ticket_id, _ = setup_claimed(console, fake_rasa)
    assert client.get("/api/queue").json()["alerts"] == []
    console.queue.escalate(PHONE, "emergencia_ahora")
    state = client.get("/api/queue").json()
    assert state["alerts"] == [{"id": ticket_id, "status": "assigned"}]
    assert state["mine"][0]["priority"] == EMERGENCY


def test_claim_pauses_a_conversation_the_bot_still_handles(
    console: RunningConsole, fake_rasa: FakeRasa
) -> None:
    """An emergency ticket exists before the bot's questions end: claiming it silences the bot."""
    fake_rasa.trackers[PHONE] = {"sender_id": PHONE, "paused": False, "events": []}
    make_agent(console.queue, "ana")
    ticket = console.queue.open_ticket(PHONE, "emergency", EMERGENCY, "Emergencia")
    client = login(console, "ana")
    client.post(f"/tickets/{ticket.id}/claim", data={"csrf_token": page_csrf(client)})
    assert [e["event"] for e in fake_rasa.events_for(PHONE)] == ["pause"]
    assert "conversation_paused" in {e.action for e in console.queue.audit_entries(ticket.id)}

    fake_rasa.posted.clear()
    fake_rasa.trackers["c2"] = {"sender_id": "c2", "paused": True, "events": []}
    other = console.queue.open_ticket("c2", "risk", RISK, "Relato")
    client.post(f"/tickets/{other.id}/claim", data={"csrf_token": page_csrf(client)})
    assert fake_rasa.events_for("c2") == []  # already paused: nothing to add


def test_close_ends_a_form_she_left_unanswered(console: RunningConsole, fake_rasa: FakeRasa) -> None:
    client, ticket_id, _ = setup_claimed(console, fake_rasa)
    fake_rasa.trackers[PHONE]["active_loop"] = {"name": "formulario_emergencia"}
    fake_rasa.posted.clear()
    client.post(f"/tickets/{ticket_id}/close",
                data={"csrf_token": page_csrf(client, f"/tickets/{ticket_id}")})
    events = fake_rasa.events_for(PHONE)
    assert [e["event"] for e in events] == ["active_loop", "slot", "resume"]
    assert events[0]["name"] is None and events[1]["name"] == "requested_slot"
