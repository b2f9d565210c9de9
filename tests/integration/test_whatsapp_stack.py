"""End to end: simulator → signed webhook → Rasa (WhatsApp channel) → actions → queue → simulator."""

from __future__ import annotations

import pytest

from handoff.priority import EMERGENCY
from handoff.queue import HandoffQueue
from store.db import make_engine
from tests.integration.conftest import body_of, buttons_of

pytestmark = pytest.mark.integration


def queue_of(stack) -> HandoffQueue:
    return HandoffQueue(make_engine(stack.env()["DATABASE_URL"]))


def test_hola_gets_the_spanish_welcome_and_menu(phone):
    phone.write("hola")
    welcome, menu = phone.replies(count=2)
    assert "gratis y confidencial" in body_of(welcome) and "133" in body_of(welcome)
    titles = [b["title"] for b in buttons_of(menu)]
    assert titles == ["Estoy en peligro", "Necesito orientación", "Hablar con alguien", "Información"]


def test_emergency_gets_the_emergency_answer_and_a_top_ticket(stack, phone):
    phone.write("ayuda me esta pegando ahora")
    first, question = phone.replies(count=2)
    assert "133" in body_of(first)
    assert "sin peligro" in body_of(question)
    ticket = queue_of(stack).open_ticket_for(phone.wa_id)
    assert ticket is not None and ticket.priority == EMERGENCY and ticket.level == "emergency"
    # she taps "No puedo": the bot asks nothing more and hands off
    no = next(b for b in buttons_of(question) if b["title"] == "No puedo")
    phone.tap(no["id"], no["title"])
    (closing,) = phone.replies(count=1)
    assert "nadie te escribirá primero" in body_of(closing)


def test_a_handed_off_conversation_stays_silent_and_escalates(stack, phone):
    phone.write("quiero hablar con una persona")
    (question,) = phone.replies(count=1)
    assert "seguro" in body_of(question)
    queue = queue_of(stack)
    nobody_online = queue.online_agents() == 0  # other tests in the session may log in
    phone.write("si")
    (handoff,) = phone.replies(count=1)
    if nobody_online:
        assert "1455" in body_of(handoff)  # she is told so and given the lines
    else:
        assert "lugar" in body_of(handoff)  # her place in the queue
    assert queue.open_ticket_for(phone.wa_id).status == "waiting"

    phone.write("/restart")  # typed by the user: must not un-pause
    (ack,) = phone.replies(count=1)  # one short acknowledgement while she waits
    assert "Recibí tu mensaje" in body_of(ack)
    phone.write("hola")
    assert phone.silent_for(4)  # not one per message

    phone.write("me esta pegando ahora ayudaaa")
    (lines,) = phone.replies(count=1)
    assert "133" in body_of(lines)
    assert queue.open_ticket_for(phone.wa_id).priority == EMERGENCY

    phone.write("salir")  # quick exit works while waiting too
    (goodbye,) = phone.replies(count=1)
    assert "Eliminar" in body_of(goodbye)
    assert queue.open_ticket_for(phone.wa_id) is not None  # the team still sees her case


def test_voice_note_gets_a_kind_answer(phone):
    phone._send(type="voice")
    (answer,) = phone.replies(count=1)
    assert "1455" in body_of(answer)
