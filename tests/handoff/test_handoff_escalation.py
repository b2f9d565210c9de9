"""The escalation broker: durable decisions, the sweep, acknowledgements, domain texts."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
import yaml
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from handoff import escalation
from handoff.escalation import EscalationBroker, hash_id
from handoff.escalation_log import EscalationLog, Kind, Outcome
from handoff.priority import EMERGENCY, PERSON, RISK
from handoff.queue import HandoffQueue
from handoff.rasa_responses import render

PHONE = "56911112222"
DOMAIN = yaml.safe_load((Path(__file__).resolve().parents[2] / "domain.yml").read_text())


def text_of(response: str) -> str:
    return DOMAIN["responses"][response][0]["text"]


class FakeRasa:
    """Rasa's HTTP API: ``GET /domain`` (the real domain.yml) and tracker events."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/domain":
            return httpx.Response(200, json={"responses": DOMAIN["responses"]})
        self.requests.append(request)
        return httpx.Response(self.status, json={"events": []})

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    def texts(self) -> list[str]:
        return [json.loads(r.content)["text"] for r in self.requests]


def user_event(text: str, intent: str, level: str | None = None, sender: str = PHONE) -> dict:
    parse_data = {"intent": {"name": intent, "confidence": 0.9}, "entities": [], "text": text,
                  "intent_ranking": [{"name": intent, "confidence": 0.9}]}
    if level:
        parse_data["triage"] = {"level": level, "handoff": True}
    return {"sender_id": sender, "event": "user", "text": text, "parse_data": parse_data,
            "timestamp": 1.0, "metadata": {}}


def make_broker(queue: HandoffQueue, fake: FakeRasa, **kwargs) -> EscalationBroker:
    kwargs.setdefault("ack_cooldown_seconds", 180)
    return EscalationBroker(rasa_url="http://rasa.test:5005", token="secret-token",
                            queue_factory=lambda: queue, transport=fake.transport,
                            retries=1, **kwargs)


async def test_emergency_while_waiting_escalates_and_sends_lines(queue: HandoffQueue) -> None:
    for i in range(3):
        queue.open_ticket(f"other{i}", "risk", RISK, "r")
    ticket = queue.open_ticket(PHONE, "other", PERSON, "pedir_persona")
    fake = FakeRasa()
    broker = make_broker(queue, fake)
    broker.publish(user_event("viene entrando con un cuchillo", "violencia_fisica", "emergency"))
    broker.publish({"sender_id": PHONE, "event": "slot", "name": "nivel", "value": "emergency"})
    await broker.drain()

    updated = queue.get(ticket.id)
    assert updated.priority == EMERGENCY and updated.escalated_at is not None
    assert queue.position(ticket.id) == 1
    (request,) = fake.requests
    assert request.url.path == f"/conversations/{PHONE}/tracker/events"
    assert request.url.params["output_channel"] == "latest"
    assert request.url.params["execute_side_effects"] == "true"
    assert request.url.params["token"] == "secret-token"
    body = json.loads(request.content)
    # a bot event only: no action event, so the paused dialogue state is left as it was
    assert body["event"] == "bot" and body["text"] == text_of("utter_emergencia_en_espera")
    assert body["metadata"]["utter_action"] == "utter_emergencia_en_espera"
    actions = {e.action for e in queue.audit_entries(ticket.id)}
    assert {"ticket_escalated", "emergency_lines_sent"} <= actions


async def test_the_decision_is_recorded_before_anything_is_sent(queue: HandoffQueue) -> None:
    ticket = queue.open_ticket(PHONE, "risk", RISK, "r")
    fake = FakeRasa(status=503)  # Rasa cannot send now
    broker = make_broker(queue, fake)
    broker.publish(user_event("me esta pegando", "emergencia_ahora", "emergency"))
    await broker.drain()
    log = EscalationLog(queue.engine)
    assert log.unprocessed() != []  # kept for the sweep
    assert queue.get(ticket.id).priority == EMERGENCY  # moved up even if sending failed

    fake.status = 200
    assert await broker.sweep(grace_seconds=0) == 1
    assert fake.texts()[-1] == text_of("utter_emergencia_en_espera")
    assert log.unprocessed() == []


async def test_sweep_escalates_what_a_crash_left_behind(queue: HandoffQueue) -> None:
    """A decision written by an instance that died before acting is done by the next sweep."""
    ticket = queue.open_ticket(PHONE, "risk", RISK, "r")
    EscalationLog(queue.engine).record(Kind.EMERGENCY, ticket.id, "emergencia_ahora")
    fake = FakeRasa()
    broker = make_broker(queue, fake)  # "after the restart"
    assert await broker.sweep(grace_seconds=0) == 1
    assert queue.get(ticket.id).priority == EMERGENCY
    assert fake.texts() == [text_of("utter_emergencia_en_espera")]
    assert await broker.sweep(grace_seconds=0) == 0  # done once


async def test_a_decision_that_never_sends_ends_in_a_critical_log(
        queue: HandoffQueue, caplog: pytest.LogCaptureFixture, monkeypatch) -> None:
    monkeypatch.setattr(escalation, "MAX_ATTEMPTS", 2)
    ticket = queue.open_ticket(PHONE, "risk", RISK, "r")
    decision = EscalationLog(queue.engine).record(Kind.EMERGENCY, ticket.id, "x")
    broker = make_broker(queue, FakeRasa(status=500))
    with caplog.at_level(logging.WARNING):
        await broker.process(decision.id)
        await broker.process(decision.id)
    assert EscalationLog(queue.engine).unprocessed() == []
    assert any(r.levelno == logging.CRITICAL for r in caplog.records)
    assert PHONE not in caplog.text


async def test_two_workers_claim_a_decision_once(queue: HandoffQueue) -> None:
    ticket = queue.open_ticket(PHONE, "risk", RISK, "r")
    log = EscalationLog(queue.engine)
    decision = log.record(Kind.EMERGENCY, ticket.id, "x")
    assert log.claim(decision.id) is not None
    assert log.claim(decision.id) is None


async def test_payload_emergency_uses_the_triage_file(queue: HandoffQueue) -> None:
    ticket = queue.open_ticket(PHONE, "risk", RISK, "r")
    fake = FakeRasa()
    broker = make_broker(queue, fake)
    broker.publish(user_event("auxilio", "pedir_auxilio"))  # no triage key
    await broker.drain()
    assert queue.get(ticket.id).priority == EMERGENCY


async def test_bot_handled_turn_is_left_alone(queue: HandoffQueue) -> None:
    """The turn in which action_handoff opened the ticket: the bot answered itself."""
    queue.open_ticket(PHONE, "emergency", EMERGENCY, "emergencia_ahora")
    fake = FakeRasa()
    broker = make_broker(queue, fake)
    broker.publish(user_event("me está pegando", "emergencia_ahora", "emergency"))
    broker.publish({"sender_id": PHONE, "event": "action", "name": "action_handoff"})
    broker.publish({"sender_id": PHONE, "event": "pause"})
    await broker.drain()
    assert fake.requests == []
    assert EscalationLog(queue.engine).unprocessed() == []


async def test_waiting_messages_get_one_acknowledgement_per_cooldown(queue: HandoffQueue) -> None:
    ticket = queue.open_ticket(PHONE, "other", PERSON, "r")
    fake = FakeRasa()
    broker = make_broker(queue, fake)
    for text, intent in (("tengo miedo", "nlu_fallback"), ("en maipu", "informar_ubicacion"),
                         ("ubicación", "compartir_ubicacion")):
        broker.publish(user_event(text, intent))
        await broker.drain()
    assert fake.texts() == [text_of("utter_en_espera")]
    assert queue.get(ticket.id).priority == PERSON  # nothing escalated


async def test_acknowledgement_comes_again_after_the_cooldown(queue: HandoffQueue) -> None:
    queue.open_ticket(PHONE, "other", PERSON, "r")
    fake = FakeRasa()
    broker = make_broker(queue, fake, ack_cooldown_seconds=0)
    for _ in range(2):
        broker.publish(user_event("hola?", "saludar"))
        await broker.drain()
    assert len(fake.requests) == 2


async def test_media_while_waiting_gets_the_text_only_answer_once(queue: HandoffQueue) -> None:
    queue.open_ticket(PHONE, "other", PERSON, "r")
    fake = FakeRasa()
    broker = make_broker(queue, fake)
    for _ in range(2):
        broker.publish(user_event("", "medio_no_soportado"))  # a voice note, twice
        await broker.drain()
    assert [json.loads(r.content)["metadata"]["utter_action"] for r in fake.requests] == [
        "utter_solo_texto"]


async def test_no_acknowledgement_when_a_specialist_holds_the_case(queue: HandoffQueue) -> None:
    ticket = queue.open_ticket(PHONE, "other", PERSON, "r")
    fake = FakeRasa()
    broker = make_broker(queue, fake)
    agent = queue.create_agent("ana", "x")
    queue.claim(ticket.id, agent.id)
    broker.publish(user_event("gracias", "agradecer"))
    broker.publish(user_event("", "medio_no_soportado"))
    await broker.drain()
    assert fake.requests == []


async def test_no_ticket_no_action(queue: HandoffQueue) -> None:
    fake = FakeRasa()
    broker = make_broker(queue, fake)
    broker.publish(user_event("me pegan ahora", "emergencia_ahora", "emergency"))
    broker.publish(user_event("hola", "saludar", sender="569000"))
    await broker.drain()
    assert fake.requests == []


async def test_cooldown_avoids_repeating_lines(queue: HandoffQueue) -> None:
    queue.open_ticket(PHONE, "risk", RISK, "r")
    fake = FakeRasa()
    broker = make_broker(queue, fake)
    for _ in range(3):
        broker.publish(user_event("ayuda", "pedir_auxilio", "emergency"))
        await broker.drain()
    assert len(fake.requests) == 1


async def test_failures_never_raise_and_logs_hold_no_text_or_phone(
    queue: HandoffQueue, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    queue.open_ticket(PHONE, "risk", RISK, "r")
    broker = make_broker(queue, FakeRasa(status=500))
    broker.publish(user_event("secreto muy privado", "emergencia_ahora", "emergency"))
    broker.publish({"event": "user"})  # malformed
    broker.publish({"sender_id": PHONE, "event": "user", "parse_data": None})
    await broker.drain()
    assert PHONE not in caplog.text and "secreto" not in caplog.text
    assert hash_id(PHONE) in caplog.text

    def broken_queue() -> HandoffQueue:
        raise RuntimeError("database down")

    broker = EscalationBroker(queue_factory=broken_queue, transport=FakeRasa().transport)
    broker.publish(user_event("ayuda", "pedir_auxilio", "emergency"))
    await broker.drain()


async def test_loaded_from_endpoint_config(monkeypatch: pytest.MonkeyPatch, db_url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("RASA_URL", "http://localhost:5999")
    monkeypatch.setenv("RASA_API_TOKEN", "t0k")
    broker = await EventBroker.create(
        EndpointConfig(type="handoff.escalation.EscalationBroker")
    )
    assert isinstance(broker, EscalationBroker)
    assert broker.rasa.api.base_url == "http://localhost:5999" and broker.rasa.api.token == "t0k"
    assert broker.is_ready()
    assert broker._sweeper is not None  # the sweep runs from Rasa's startup on
    await broker.close()


async def test_with_rasa_tracker_store(queue: HandoffQueue) -> None:
    """Real Rasa events through a real tracker store: paused turn vs. bot-handled turn."""
    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import (
        ActionExecuted,
        BotUttered,
        ConversationPaused,
        UserUttered,
    )

    fake = FakeRasa()
    broker = make_broker(queue, fake)
    store = InMemoryTrackerStore(Domain.empty(), event_broker=broker)
    tracker = await store.get_or_create_tracker(PHONE)
    emergency = {"intent": {"name": "emergencia_ahora", "confidence": 0.95}, "entities": [],
                 "triage": {"level": "emergency", "handoff": True}}

    tracker.update(UserUttered("me está pegando", parse_data=emergency))
    tracker.update(ActionExecuted("action_handoff"))
    queue.open_ticket(PHONE, "emergency", EMERGENCY, "emergencia_ahora")
    tracker.update(BotUttered("Llama al 133..."))
    tracker.update(ConversationPaused())
    tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)
    await broker.drain()
    assert fake.requests == []

    tracker.update(UserUttered("ayuda, volvió", parse_data=emergency))
    await store.save(tracker)
    await broker.drain()
    assert fake.texts() == [text_of("utter_emergencia_en_espera")]


async def test_quick_exit_while_waiting_gets_the_domain_goodbye(queue: HandoffQueue) -> None:
    ticket = queue.open_ticket(PHONE, "risk", RISK, "r")
    fake = FakeRasa()
    broker = make_broker(queue, fake)
    broker.publish(user_event("salir", "salir"))
    await broker.drain()
    assert fake.texts() == [text_of("utter_salir")]
    assert queue.get(ticket.id).status == "waiting"  # the team still sees she was there
    assert "quick_exit_while_waiting" in {e.action for e in queue.audit_entries(ticket.id)}


async def test_emergency_while_a_specialist_holds_the_case(queue: HandoffQueue) -> None:
    ticket = queue.open_ticket(PHONE, "risk", RISK, "r")
    agent = queue.create_agent("ana", "x")
    queue.claim(ticket.id, agent.id)
    fake = FakeRasa()
    broker = make_broker(queue, fake)
    broker.publish(user_event("me esta pegando", "emergencia_ahora", "emergency"))
    await broker.drain()
    assert queue.get(ticket.id).priority == EMERGENCY
    assert queue.get(ticket.id).status == "assigned"  # she keeps her specialist
    assert fake.texts() == [text_of("utter_emergencia_con_especialista")]


def test_render_takes_the_first_unconditional_variation_with_buttons():
    variations = DOMAIN["responses"]["utter_ask_contacto_seguro"]
    rendered = render(list(reversed(variations)))
    assert rendered["text"] == variations[0]["text"]
    assert [b["title"] for b in rendered["data"]["buttons"]] == ["Sí, es seguro", "No es seguro"]
    assert render([]) is None


def test_escalation_outcomes_are_enums():
    assert Outcome("lines_sent") is Outcome.LINES_SENT and Kind("ack") is Kind.ACKNOWLEDGEMENT
