"""«Borrar mis datos»: the action erases her ticket content at once and stores the request that
deletes her tracker after the turn (store/erasure.py)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from actions.privacy_actions import ActionBorrarDatos
from channels.whatsapp.tables import dispose
from store.erasure import ErasureRequests
from tests.bot.conftest import make_tracker, user_event

HER = "56911112222"


@pytest.fixture
def channel_key(queue, tmp_path, monkeypatch):
    monkeypatch.setenv("HELPLINE_DATA_KEY", Fernet.generate_key().decode())
    yield
    dispose(f"sqlite:///{tmp_path / 'queue.db'}")


async def test_she_erases_her_data(queue, channel_key, dispatcher) -> None:
    ticket = queue.open_ticket(HER, "emergency", 1, "emergencia_ahora", safe_contact="sí")
    tracker = make_tracker([user_event("afirmar")], sender_id=HER)

    assert await ActionBorrarDatos().run(dispatcher, tracker, {}) == []

    assert [m["response"] for m in dispatcher.messages] == ["utter_datos_borrados"]
    assert queue.open_ticket_for(HER) is None
    assert queue.get(ticket.id).safe_contact is None
    assert ErasureRequests(queue.engine).pending(HER) == 1
