"""«Borrar mis datos» while she waits for a specialist (the bot is paused): the escalation
broker asks for confirmation, and only her «Sí» to that question erases her data."""

from __future__ import annotations

import json

import httpx
import pytest
from cryptography.fernet import Fernet

from channels.whatsapp.tables import dispose
from handoff.priority import RISK
from handoff.queue import HandoffQueue
from store.erasure import ErasureRequests
from tests.handoff.test_handoff_escalation import PHONE, FakeRasa, make_broker, text_of, user_event


class TrackerRasa(FakeRasa):
    """Also serves her tracker: the bot's last message is ``last_bot``."""

    def __init__(self, last_bot: str) -> None:
        super().__init__()
        self.last_bot = last_bot

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path.endswith("/tracker"):
            return httpx.Response(200, json={"events": [
                {"event": "bot", "text": "…", "metadata": {"utter_action": self.last_bot}},
                {"event": "user", "text": "/afirmar"}]})
        return super().handler(request)

    def texts(self) -> list[str]:
        return [json.loads(r.content)["text"] for r in self.requests if r.method == "POST"]


@pytest.fixture
def channel_env(db_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("HELPLINE_DATA_KEY", Fernet.generate_key().decode())
    yield
    dispose(db_url)


async def test_erase_button_while_waiting_asks_then_erases(queue: HandoffQueue,
                                                           channel_env) -> None:
    ticket = queue.open_ticket(PHONE, "risk", RISK, "r", safe_contact="sí")
    asking = TrackerRasa(last_bot="utter_en_espera")
    broker = make_broker(queue, asking)
    broker.publish(user_event("/borrar_datos", "borrar_datos"))
    await broker.drain()
    assert asking.texts() == [text_of("utter_confirmar_borrado")]

    confirming = TrackerRasa(last_bot="utter_confirmar_borrado")
    broker = make_broker(queue, confirming)
    broker.publish(user_event("/afirmar", "afirmar"))
    await broker.drain()
    assert confirming.texts() == [text_of("utter_datos_borrados")]
    assert queue.open_ticket_for(PHONE) is None
    assert queue.get(ticket.id).safe_contact is None
    assert ErasureRequests(queue.engine).pending(PHONE) == 1


async def test_a_yes_to_something_else_erases_nothing(queue: HandoffQueue, channel_env) -> None:
    ticket = queue.open_ticket(PHONE, "risk", RISK, "r", safe_contact="sí")
    fake = TrackerRasa(last_bot="utter_en_espera")
    broker = make_broker(queue, fake)
    broker.publish(user_event("si", "afirmar"))
    await broker.drain()
    assert fake.texts() == [text_of("utter_en_espera")]
    assert queue.get(ticket.id).safe_contact == "sí"
    declining = TrackerRasa(last_bot="utter_confirmar_borrado")
    broker = make_broker(queue, declining)
    broker.publish(user_event("no", "negar"))
    await broker.drain()
    assert declining.texts() == [text_of("utter_borrado_cancelado")]
    assert queue.open_ticket_for(PHONE) is not None
