from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
import yaml
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from handoff.escalation import (
    EMERGENCY_TEXT,
    EMERGENCY_TEXT_ASSIGNED,
    QUICK_EXIT_TEXT,
    EscalationBroker,
    hash_id,
)
from handoff.priority import EMERGENCY, PERSON, RISK
from handoff.queue import HandoffQueue

PHONE = "56911112222"


class FakeRasa:
    def __init__(self, status: int = 200) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json={"events": []})

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)


def user_event(text: str, intent: str, level: str | None = None, sender: str = PHONE) -> dict:
    parse_data = {"intent": {"name": intent, "confidence": 0.9}, "entities": [], "text": text,
                  "intent_ranking": [{"name": intent, "confidence": 0.9}]}
    if level:
        parse_data["triage"] = {"level": level, "handoff": True}
    return {"sender_id": sender, "event": "user", "text": text, "parse_data": parse_data,
            "timestamp": 1.0, "metadata": {}}


def make_broker(queue: HandoffQueue, fake: FakeRasa, **kwargs) -> EscalationBroker:
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
    assert len(fake.requests) == 1
    request = fake.requests[0]
    assert request.method == "POST"
    assert request.url.path == f"/conversations/{PHONE}/tracker/events"
    assert request.url.params["output_channel"] == "latest"
    assert request.url.params["execute_side_effects"] == "true"
    assert request.url.params["token"] == "secret-token"
    body = json.loads(request.content)
    assert body["event"] == "bot" and body["text"] == EMERGENCY_TEXT
    actions = {e.action for e in queue.audit_entries(ticket.id)}
    assert {"ticket_escalated", "emergency_lines_sent"} <= actions
    assert all("resume" not in r.content.decode() for r in fake.requests)


async def test_emergency_intent_from_triage_file(queue: HandoffQueue) -> None:
    ticket = queue.open_ticket(PHONE, "risk", RISK, "r")
    fake = FakeRasa()
    broker = make_broker(queue, fake)
    broker.publish(user_event("auxilio", "pedir_auxilio"))  # no triage key
    await broker.drain()
    assert queue.get(ticket.id).priority == EMERGENCY
    assert len(fake.requests) == 1


async def test_low_confidence_emergency_candidate_counts(queue: HandoffQueue) -> None:
    ticket = queue.open_ticket(PHONE, "risk", RISK, "r")
    fake = FakeRasa()
    broker = make_broker(queue, fake)
    event = user_event("...", "fuera_de_alcance")
    event["parse_data"]["intent_ranking"].append({"name": "emergencia_ahora", "confidence": 0.2})
    broker.publish(event)
    await broker.drain()
    assert queue.get(ticket.id).priority == EMERGENCY


async def test_bot_handled_turn_is_not_escalated_twice(queue: HandoffQueue) -> None:
    """The turn in which action_handoff opened the ticket: the bot answered itself."""
    queue.open_ticket(PHONE, "emergency", EMERGENCY, "emergencia_ahora")
    fake = FakeRasa()
    broker = make_broker(queue, fake)
    broker.publish(user_event("me está pegando", "emergencia_ahora", "emergency"))
    broker.publish({"sender_id": PHONE, "event": "action", "name": "action_handoff"})
    broker.publish({"sender_id": PHONE, "event": "bot", "text": "..."})
    broker.publish({"sender_id": PHONE, "event": "pause"})
    await broker.drain()
    assert fake.requests == []


async def test_non_emergency_or_no_ticket_does_nothing(queue: HandoffQueue) -> None:
    ticket = queue.open_ticket(PHONE, "risk", RISK, "r")
    fake = FakeRasa()
    broker = make_broker(queue, fake)
    broker.publish(user_event("gracias", "agradecer", "other"))
    broker.publish(user_event("me pegan ahora", "emergencia_ahora", "emergency", sender="569000"))
    await broker.drain()
    assert fake.requests == []
    assert queue.get(ticket.id).priority == RISK


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
    ticket = queue.open_ticket(PHONE, "risk", RISK, "r")
    fake = FakeRasa(status=500)
    broker = make_broker(queue, fake)
    broker.publish(user_event("secreto muy privado", "emergencia_ahora", "emergency"))
    broker.publish({"event": "user"})  # malformed
    broker.publish({"sender_id": PHONE, "event": "user", "parse_data": None})
    await broker.drain()
    assert queue.get(ticket.id).priority == EMERGENCY  # escalated even if sending failed
    assert len(fake.requests) == 1
    assert PHONE not in caplog.text and "secreto" not in caplog.text
    assert hash_id(PHONE) in caplog.text

    def broken_queue() -> HandoffQueue:
        raise RuntimeError("database down")

    broker = EscalationBroker(queue_factory=broken_queue, transport=fake.transport)
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
    assert broker.rasa_url == "http://localhost:5999" and broker.token == "t0k"
    assert broker.is_ready()
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

    # turn 1: the bot answers and hands off (ticket opened by action_handoff)
    tracker.update(UserUttered("me está pegando", parse_data=emergency))
    tracker.update(ActionExecuted("action_handoff"))
    queue.open_ticket(PHONE, "emergency", EMERGENCY, "emergencia_ahora")
    tracker.update(BotUttered("Llama al 133..."))
    tracker.update(ConversationPaused())
    tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)
    await broker.drain()
    assert fake.requests == []

    # turn 2: paused, Rasa only stores her message
    tracker.update(UserUttered("ayuda, volvió", parse_data=emergency))
    await store.save(tracker)
    await broker.drain()
    assert len(fake.requests) == 1
    assert json.loads(fake.requests[0].content)["text"] == EMERGENCY_TEXT


async def test_quick_exit_while_waiting_gets_the_neutral_goodbye(queue: HandoffQueue) -> None:
    ticket = queue.open_ticket(PHONE, "risk", RISK, "r")
    fake = FakeRasa()
    broker = make_broker(queue, fake)
    broker.publish(user_event("salir", "salir"))
    await broker.drain()
    (request,) = fake.requests
    body = json.loads(request.content)
    assert body["event"] == "bot" and body["text"] == QUICK_EXIT_TEXT
    assert queue.get(ticket.id).status == "waiting"  # the team still sees she was there
    assert queue.get(ticket.id).priority == RISK
    assert "quick_exit_while_waiting" in {e.action for e in queue.audit_entries(ticket.id)}


async def test_quick_exit_answered_by_the_bot_is_left_alone(queue: HandoffQueue) -> None:
    queue.open_ticket(PHONE, "risk", RISK, "r")
    fake = FakeRasa()
    broker = make_broker(queue, fake)
    broker.publish(user_event("salir", "salir"))
    broker.publish({"sender_id": PHONE, "event": "action", "name": "utter_salir"})
    await broker.drain()
    assert fake.requests == []


async def test_quick_exit_without_a_ticket_does_nothing(queue: HandoffQueue) -> None:
    fake = FakeRasa()
    broker = make_broker(queue, fake)
    broker.publish(user_event("salir", "salir"))
    await broker.drain()
    assert fake.requests == []


def test_quick_exit_text_is_the_bots_own():
    domain = yaml.safe_load((Path(__file__).resolve().parents[2] / "domain.yml").read_text())
    assert domain["responses"]["utter_salir"][0]["text"] == QUICK_EXIT_TEXT


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
    (request,) = fake.requests
    assert json.loads(request.content)["text"] == EMERGENCY_TEXT_ASSIGNED
