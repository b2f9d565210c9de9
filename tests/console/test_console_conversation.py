from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timezone

import httpx
from conftest import FakeRasa, RunningConsole, login, make_agent, page_csrf
from sqlalchemy import update

from handoff.models import Ticket
from handoff.priority import EMERGENCY, HIGH_RISK, PERSON, RISK

PHONE = "56911112222"


def user(text: str, intent: str, ts: float, level: str | None = None, **metadata) -> dict:
    parse_data = {"intent": {"name": intent, "confidence": 0.9}, "entities": []}
    if level:
        parse_data["triage"] = {"level": level, "handoff": True}
    return {"event": "user", "text": text, "timestamp": ts, "parse_data": parse_data,
            "metadata": metadata, "input_channel": "whatsapp"}


def bot(text: str, ts: float, buttons: list[tuple[str, str]] | None = None) -> dict:
    event = {"event": "bot", "text": text, "timestamp": ts, "metadata": {}}
    if buttons:
        event["data"] = {"buttons": [{"title": t, "payload": p} for t, p in buttons]}
    return event


def slot(name: str, value, ts: float) -> dict:
    return {"event": "slot", "name": name, "value": value, "timestamp": ts}


def goodbye_text(fake: FakeRasa) -> str:
    return fake.responses["utter_cierre_especialista"][0]["text"]


def setup_claimed(console: RunningConsole, fake: FakeRasa, safe_contact: str | None = None,
                  last_user_age: float = 60) -> tuple[httpx.Client, int, int]:
    now = time.time()
    fake.trackers[PHONE] = {"sender_id": PHONE, "events": [
        {"event": "session_started", "timestamp": now - 700},
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


def opened_at(ticket, console: RunningConsole, when: float):
    """The ticket as if opened at ``when`` (epoch seconds), as action_handoff would have."""
    moment = datetime.fromtimestamp(when, tz=timezone.utc).replace(tzinfo=None)
    with console.queue.engine.begin() as conn:
        conn.execute(update(Ticket).where(Ticket.id == ticket.id).values(created_at=moment))
    return console.queue.get(ticket.id)


def close(client: httpx.Client, ticket_id: int, **data) -> httpx.Response:
    form = {"csrf_token": page_csrf(client, f"/tickets/{ticket_id}"), "outcome": "orientacion",
            **data}
    return client.post(f"/tickets/{ticket_id}/close", data=form)


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
    assert state["alerts"] == [{"id": emergency.id, "label": first["label"], "status": "waiting"}]
    assert "c3" not in str(state)  # conversation ids (phone numbers) are never shown
    assert "sla" not in state  # SLA data is for supervisors
    page = client.get("/").text
    assert page.index(f'id="ticket-{emergency.id}"') < page.index(f'id="ticket-{risk.id}"')
    for text in ("emergencia_ahora", "amenazas", "alto", "no, él revisa mi celular",
                 'id="emergency-banner"', f'id="claim-{person.id}"', f'id="read-{person.id}"'):
        assert text in page


def test_case_labels_are_keyed_and_never_collide(console: RunningConsole) -> None:
    """Numbers ending in the same 4 digits used to get the same label («···2222»)."""
    make_agent(console.queue, "ana")
    tickets = [console.queue.open_ticket(f"5691234{i:04d}2222"[-11:], "risk", RISK, "r")
               for i in range(40)]
    client = login(console, "ana")
    labels = {t["id"]: t["label"] for t in client.get("/api/queue").json()["waiting"]}
    assert len(set(labels.values())) == len(tickets)
    assert all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}", label) for label in labels.values())
    assert not any("2222" in label or str(tid) == label for tid, label in labels.items())


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
    # the loser cannot open the conversation any more (it is no longer waiting)
    loser = clients[0] if q.get(ticket.id).agent_id == bea else clients[1]
    assert loser.get(f"/tickets/{ticket.id}").headers["location"] == "/?msg=not_allowed"


def test_a_waiting_case_can_be_read_before_claiming_and_it_is_audited(
    console: RunningConsole, fake_rasa: FakeRasa
) -> None:
    now = time.time()
    fake_rasa.trackers[PHONE] = {"sender_id": PHONE, "paused": True, "events": [
        user("me pegó anoche", "violencia_fisica", now - 60, level="risk")]}
    agent = make_agent(console.queue, "ana")
    ticket = console.queue.open_ticket(PHONE, "risk", RISK, "violencia_fisica")
    client = login(console, "ana")
    page = client.get(f"/tickets/{ticket.id}")
    assert page.status_code == 200
    assert "me pegó anoche" in page.text and 'id="claim-here"' in page.text
    assert 'id="reply-form"' not in page.text and 'id="close-form"' not in page.text
    assert console.queue.get(ticket.id).status == "waiting"  # reading does not claim
    reads = [e for e in console.queue.audit_entries(ticket.id)
             if e.action == "conversation_read_waiting"]
    assert len(reads) == 1 and reads[0].agent_id == agent
    assert client.get(f"/api/tickets/{ticket.id}").status_code == 200
    # she cannot act on it without claiming
    response = client.post(f"/tickets/{ticket.id}/reply",
                           data={"csrf_token": page_csrf(client), "text": "hola"})
    assert response.headers["location"] == "/?msg=not_allowed"


def test_conversation_view_shows_transcript(console: RunningConsole, fake_rasa: FakeRasa) -> None:
    client, ticket_id, _ = setup_claimed(console, fake_rasa, safe_contact="después de las 19 h")
    page = client.get(f"/tickets/{ticket_id}")
    assert page.status_code == 200
    html = page.text
    for text in ("me pegó anoche", "Hola, estoy aquí para ayudarte.", "Santiago",
                 "-33.45000, -70.66000", "Nota de voz o audio", "Emergencia", "Riesgo",
                 "después de las 19 h", 'id="reply-form"', 'id="close-button"',
                 'id="contact-reply"'):
        assert text in html, text
    assert 'id="unsafe-warning"' not in html
    api = client.get(f"/api/tickets/{ticket_id}").json()
    levels = [line["level"] for line in api["lines"] if line["kind"] == "user"]
    assert levels == ["other", "risk", "other", "other", "emergency"]
    assert api["window_open"] is True
    assert PHONE not in html and "rasa-secret-token" not in html and "password_hash" not in html
    assert fake_rasa.posted[-1]["body"]["event"] == "pause"  # the claim paused the bot


def test_button_taps_show_their_title_and_safe_answer_is_her_real_answer(
    console: RunningConsole, fake_rasa: FakeRasa
) -> None:
    """She tapped «Sí, puedo»: the console said "/afirmar" and «no respondió»."""
    now = time.time()
    fake_rasa.trackers[PHONE] = {"sender_id": PHONE, "paused": True, "events": [
        {"event": "session_started", "timestamp": now - 100},
        user("me está pegando ahora", "emergencia_ahora", now - 90, level="emergency"),
        bot("¿Puedes seguir escribiendo sin peligro?", now - 89,
            [("Sí, puedo", "/afirmar"), ("No puedo", "/negar")]),
        user("/afirmar", "afirmar", now - 80),
        slot("puede_escribir", True, now - 80),
    ]}
    make_agent(console.queue, "ana")
    ticket = console.queue.open_ticket(PHONE, "emergency", EMERGENCY, "emergencia_ahora")
    client = login(console, "ana")
    client.post(f"/tickets/{ticket.id}/claim", data={"csrf_token": page_csrf(client)})
    html = client.get(f"/tickets/{ticket.id}").text
    assert "/afirmar" not in html
    assert "«Sí, puedo»" in html
    safe = re.search(r'id="safe-contact">(.*?)</dd>', html, re.S).group(1)
    assert "Sí, puedo" in safe and "no respondió" not in safe
    api = client.get(f"/api/tickets/{ticket.id}").json()
    tapped = [line for line in api["lines"] if line["kind"] == "user" and line["tapped"]]
    assert [line["text"] for line in tapped] == ["Sí, puedo"]
    offered = [line["options"] for line in api["lines"] if line["kind"] == "bot"]
    assert offered == [["Sí, puedo", "No puedo"]]


def test_her_words_before_salir_stay_visible_and_goodbye_is_not_prechecked(
    console: RunningConsole, fake_rasa: FakeRasa
) -> None:
    """«salir» during an emergency: the tracker restarts; Rasa's default view hid her words."""
    now = time.time()
    fake_rasa.trackers[PHONE] = {"sender_id": PHONE, "paused": False, "events": [
        {"event": "session_started", "timestamp": now - 300},
        user("me está pegando, ayuda", "emergencia_ahora", now - 290, level="emergency"),
        bot("Si puedes, llama ahora al 133.", now - 289),
        user("salir", "salir", now - 200),
        bot("Hasta luego.", now - 199),
        {"event": "restart", "timestamp": now - 199},
        {"event": "session_started", "timestamp": now - 100},
        user("hola", "saludar", now - 90),
    ]}
    make_agent(console.queue, "ana")
    ticket = opened_at(console.queue.open_ticket(PHONE, "emergency", EMERGENCY,
                                                 "emergencia_ahora"), console, now - 289)
    client = login(console, "ana")
    client.post(f"/tickets/{ticket.id}/claim", data={"csrf_token": page_csrf(client)})
    html = client.get(f"/tickets/{ticket.id}").text
    assert "me está pegando, ayuda" in html and "hola" in html
    assert "salir" in html and "su chat se reinició" in html
    assert re.search(r'id="send-goodbye"(?![^>]*checked)', html)
    assert 'id="goodbye-why"' in html
    tracker_reads = [p for p in fake_rasa.posted if p["body"].get("event") == "pause"]
    assert tracker_reads  # the unpaused emergency conversation was paused on claim


def test_goodbye_is_not_prechecked_when_unsafe(console: RunningConsole,
                                               fake_rasa: FakeRasa) -> None:
    client, ticket_id, _ = setup_claimed(console, fake_rasa, safe_contact="No es seguro")
    html = client.get(f"/tickets/{ticket_id}").text
    assert re.search(r'id="send-goodbye"(?![^>]*checked)', html)


def test_reply_goes_through_rasa_and_reports_honestly(console: RunningConsole,
                                                      fake_rasa: FakeRasa) -> None:
    client, ticket_id, agent_id = setup_claimed(console, fake_rasa)
    csrf = page_csrf(client, f"/tickets/{ticket_id}")
    response = client.post(f"/tickets/{ticket_id}/reply",
                           data={"csrf_token": csrf, "text": "Estoy contigo. ¿Puedes salir?"})
    # no outbox connected: Rasa took it, nobody can say it reached her phone
    assert response.headers["location"] == f"/tickets/{ticket_id}?msg=accepted"
    flash = client.get(response.headers["location"]).text
    assert "Rasa) aceptó el mensaje" in flash and "Mensaje enviado" not in flash
    posted = fake_rasa.posted[-1]
    assert posted["conversation_id"] == PHONE
    assert posted["query"]["output_channel"] == "whatsapp"
    assert posted["query"]["execute_side_effects"] == "true"
    assert posted["body"]["event"] == "bot"
    assert posted["body"]["text"] == "Estoy contigo. ¿Puedes salir?"
    assert posted["body"]["metadata"]["client_ref"]
    # a canned answer
    client.post(f"/tickets/{ticket_id}/reply", data={"csrf_token": csrf, "canned": "emergencia"})
    assert "133" in fake_rasa.posted[-1]["body"]["text"]
    entries = [e for e in console.queue.audit_entries(ticket_id) if e.action == "reply_sent"]
    assert len(entries) == 2 and all(e.agent_id == agent_id for e in entries)
    assert all("salir" not in (e.detail or "") for e in console.queue.audit_entries())
    assert console.queue.get(ticket_id).first_reply_at is not None
    # empty replies are not sent
    count = len(fake_rasa.posted)
    client.post(f"/tickets/{ticket_id}/reply", data={"csrf_token": csrf, "text": "  "})
    assert len(fake_rasa.posted) == count


def test_reply_refused_when_window_closed(console: RunningConsole, fake_rasa: FakeRasa) -> None:
    client, ticket_id, _ = setup_claimed(console, fake_rasa, last_user_age=25 * 3600)
    page = client.get(f"/tickets/{ticket_id}").text
    assert "Pasaron más de 24 horas" in page
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


def test_close_needs_an_outcome(console: RunningConsole, fake_rasa: FakeRasa) -> None:
    client, ticket_id, _ = setup_claimed(console, fake_rasa)
    fake_rasa.posted.clear()
    for outcome in ("", "inventado"):
        response = close(client, ticket_id, outcome=outcome, send_goodbye="1")
        assert response.headers["location"] == f"/tickets/{ticket_id}?msg=outcome_needed"
    assert fake_rasa.posted == [] and console.queue.get(ticket_id).status == "assigned"


def test_close_sends_goodbye_from_the_domain_then_resume(
    console: RunningConsole, fake_rasa: FakeRasa
) -> None:
    client, ticket_id, agent_id = setup_claimed(console, fake_rasa)
    fake_rasa.posted.clear()
    response = close(client, ticket_id, send_goodbye="1", outcome="derivada_centro",
                     tags=["violencia_fisica", "denuncia"])
    assert response.headers["location"] == "/?msg=closed"
    events = fake_rasa.events_for(PHONE)
    assert [e["event"] for e in events] == ["bot", "resume"]
    assert events[0]["text"] == goodbye_text(fake_rasa)  # domain.yml's utter_cierre_especialista
    assert fake_rasa.posted[0]["query"]["output_channel"] == "whatsapp"
    ticket = console.queue.get(ticket_id)
    assert ticket.status == "closed" and ticket.closed_at is not None
    assert ticket.outcome == "derivada_centro" and ticket.tags == ("violencia_fisica", "denuncia")
    assert console.queue.open_ticket_for(PHONE) is None
    actions = {e.action for e in console.queue.audit_entries(ticket_id)}
    assert {"goodbye_sent", "conversation_resumed", "ticket_closed"} <= actions


def test_close_without_goodbye_and_when_rasa_is_down(
    console: RunningConsole, fake_rasa: FakeRasa
) -> None:
    client, ticket_id, _ = setup_claimed(console, fake_rasa)
    csrf = page_csrf(client, f"/tickets/{ticket_id}")
    fake_rasa.fail = True
    response = client.post(f"/tickets/{ticket_id}/close",
                           data={"csrf_token": csrf, "outcome": "orientacion"})
    assert response.headers["location"].endswith("msg=rasa_down")
    assert console.queue.get(ticket_id).status == "assigned"  # nothing half-done
    assert "transcript-error" in client.get(f"/tickets/{ticket_id}").text
    fake_rasa.fail = False
    fake_rasa.posted.clear()
    client.post(f"/tickets/{ticket_id}/close", data={"csrf_token": csrf, "outcome": "orientacion"})
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
    assert client.get("/audit").status_code == 403


def test_audit_page_is_in_spanish_with_dates(console: RunningConsole,
                                             fake_rasa: FakeRasa) -> None:
    client, ticket_id, _ = setup_claimed(console, fake_rasa)
    make_agent(console.queue, "sara", "supervisor")
    html = login(console, "sara").get("/audit").text
    assert "Tomó el caso" in html and "Inició sesión" in html and "Caso abierto" in html
    assert "ticket_claimed" not in re.sub(r'data-action="[^"]*"', "", html)
    assert re.search(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}", html)


def test_escalated_assigned_ticket_alerts_its_specialist(
    console: RunningConsole, fake_rasa: FakeRasa
) -> None:
    client, ticket_id, _ = setup_claimed(console, fake_rasa)
    assert client.get("/api/queue").json()["alerts"] == []
    console.queue.escalate(PHONE, "emergencia_ahora")
    state = client.get("/api/queue").json()
    assert [(a["id"], a["status"]) for a in state["alerts"]] == [(ticket_id, "assigned")]
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
    close(client, ticket_id)
    events = fake_rasa.events_for(PHONE)
    assert [e["event"] for e in events] == ["active_loop", "slot", "resume"]
    assert events[0]["name"] is None and events[1]["name"] == "requested_slot"


def test_region_comes_from_her_location_answer(console: RunningConsole,
                                               fake_rasa: FakeRasa) -> None:
    client, ticket_id, _ = setup_claimed(console, fake_rasa)
    fake_rasa.trackers[PHONE]["events"].append(slot("comuna", "Temuco", time.time()))
    close(client, ticket_id)
    assert console.queue.get(ticket_id).region == "Región de La Araucanía"
