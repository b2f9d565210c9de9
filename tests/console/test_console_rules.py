"""The console's rules without a server: may we write to her, delivery reports, case labels,
the texts file."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
import yaml

from console.contact import (
    ContactFacts,
    SafeAnswer,
    contact_state,
    follow_up_decision,
    no_contact_at,
    reply_decision,
    safe_answer,
    unsafe_to_write,
)
from console.delivery import Delivery, DeliveryState, OutboundState, summarise
from console.labels import case_label
from console.texts import DEFAULT_FILE, Texts, problems
from handoff.states import Outcome, Role, TicketStatus


def facts(**changes) -> ContactFacts:
    values = dict(answer=SafeAnswer("Sí, es seguro", True, "contacto"), window_open=True,
                  no_contact=False, wrote_since_no_contact=False, left=False,
                  follow_up_done=False, template_configured=True)
    values.update(changes)
    return ContactFacts(**values)


# ------------------------------------------------------------------- replies
def test_reply_rules() -> None:
    assert reply_decision(facts()) .allowed
    assert reply_decision(facts(window_open=None)).allowed  # she never wrote: unknown, allowed
    closed = reply_decision(facts(window_open=False))
    assert (closed.allowed, closed.reason) == (False, "template")
    assert reply_decision(facts(window_open=False, template_configured=False)).reason == \
        "no_template"
    assert reply_decision(facts(no_contact=True)).reason == "no_contact"
    assert reply_decision(facts(no_contact=True, wrote_since_no_contact=True)).allowed
    unsafe = reply_decision(facts(answer=SafeAnswer("No es seguro", False, "contacto")))
    assert unsafe.allowed and unsafe.needs_confirmation


def test_goodbye_is_prechecked_only_when_nothing_speaks_against_it() -> None:
    assert contact_state(facts()).goodbye_default
    for changes in ({"left": True}, {"no_contact": True, "wrote_since_no_contact": True},
                    {"answer": SafeAnswer("No", False, "contacto")}, {"window_open": False},
                    {"tracker_read": False}):
        assert not contact_state(facts(**changes)).goodbye_default, changes


def test_follow_up_rules() -> None:
    late = {"window_open": False}
    assert follow_up_decision(facts(**late)).allowed
    for changes, reason in (({}, "too_soon"),
                            ({**late, "template_configured": False}, "no_template"),
                            ({**late, "no_contact": True, "wrote_since_no_contact": True},
                             "no_contact"),
                            ({**late, "answer": SafeAnswer("no", False, "contacto")}, "unsafe"),
                            ({**late, "answer": SafeAnswer("Sí, puedo", True, "emergencia")},
                             "not_asked"),
                            ({**late, "answer": SafeAnswer()}, "not_asked"),
                            ({**late, "follow_up_done": True}, "follow_up_done"),
                            ({**late, "tracker_read": False}, "unknown")):
        decision = follow_up_decision(facts(**changes))
        assert (decision.allowed, decision.reason) == (False, reason), changes


def test_every_reason_has_a_spanish_text() -> None:
    texts = Texts()
    reasons = {"free", "template", "no_template", "too_soon", "no_contact", "unsafe",
               "not_asked", "left", "unknown", "follow_up_done"}
    assert all(texts.get("contacto", r) != r for r in reasons)


# ------------------------------------------------------------ reading answers
def events_with(*tail: dict) -> list[dict]:
    return [
        {"event": "bot", "text": "¿Es seguro que te escriba a este número?", "timestamp": 1,
         "data": {"buttons": [{"title": "Sí, es seguro", "payload": "/afirmar"},
                              {"title": "No es seguro", "payload": "/negar"}]}},
        *tail,
    ]


def user(text: str, intent: str, ts: float) -> dict:
    return {"event": "user", "text": text, "timestamp": ts,
            "parse_data": {"intent": {"name": intent}}}


def test_safe_answer_is_her_button_or_her_words() -> None:
    tapped = safe_answer(events_with(user("/negar", "negar", 2),
                                     {"event": "slot", "name": "contacto_seguro",
                                      "value": "no es seguro escribirle", "timestamp": 2}))
    assert tapped == SafeAnswer("No es seguro", False, "contacto")
    typed = safe_answer(events_with(user("después de las 7 sí", "nlu_fallback", 2),
                                    {"event": "slot", "name": "contacto_seguro",
                                     "value": "después de las 7 sí", "timestamp": 2}))
    assert typed == SafeAnswer("después de las 7 sí", True, "contacto")
    assert safe_answer([]) == SafeAnswer()


def test_no_me_escriban_holds_until_a_later_safe_answer() -> None:
    said = [user("no me escriban", "no_escribir", 5)]
    assert no_contact_at(said) == 5
    assert no_contact_at([], stored=3.0) == 3.0
    lifted = said + [{"event": "slot", "name": "contacto_seguro", "value": "sí, es seguro",
                      "timestamp": 9}]
    assert no_contact_at(lifted) is None
    earlier = [{"event": "slot", "name": "contacto_seguro", "value": "sí, es seguro",
                "timestamp": 1}] + said
    assert no_contact_at(earlier) == 5


@pytest.mark.parametrize("answer, unsafe", [
    ("No es seguro", True), ("no, él revisa mi celular", True), ("nunca", True),
    ("sí, es seguro", False), ("después de las 19 h", False), (None, False),
])
def test_unsafe_answers(answer, unsafe) -> None:
    assert unsafe_to_write(answer) is unsafe


# ------------------------------------------------------------------ delivery
def test_delivery_summary_of_one_message() -> None:
    assert summarise([OutboundState("sent"), OutboundState("read")]).state is DeliveryState.SENT
    assert summarise([OutboundState("read")]).state is DeliveryState.READ
    failed = summarise([OutboundState("sent"), OutboundState("failed", 131047)])
    assert (failed.state, failed.error_code) == (DeliveryState.NOT_SENT, 131047)
    assert summarise([OutboundState("pending"), OutboundState("sent")]).state is \
        DeliveryState.PENDING
    assert summarise([]).state is DeliveryState.PENDING


class Reader:
    def __init__(self, answers: list[list[OutboundState]]) -> None:
        self.answers = answers
        self.calls = 0

    def states_for(self, conversation_id: str, ref: str) -> list[OutboundState]:
        self.calls += 1
        return self.answers[min(self.calls, len(self.answers)) - 1]


def test_delivery_waits_for_the_outbox_and_never_claims_what_it_cannot_know() -> None:
    assert asyncio.run(Delivery().report("569", "r")).state is DeliveryState.ACCEPTED
    reader = Reader([[], [OutboundState("pending")], [OutboundState("sent")]])
    report = asyncio.run(Delivery(reader, wait_seconds=5, poll_seconds=0.01).report("569", "r"))
    assert report.state is DeliveryState.SENT and reader.calls == 3
    stuck = asyncio.run(Delivery(Reader([[OutboundState("pending")]]), wait_seconds=0.05,
                                 poll_seconds=0.01).report("569", "r"))
    assert stuck.state is DeliveryState.PENDING

    class Broken:
        def states_for(self, conversation_id: str, ref: str) -> list[OutboundState]:
            raise RuntimeError("outbox table missing")

    assert asyncio.run(Delivery(Broken()).report("569", "r")).state is DeliveryState.ACCEPTED


# -------------------------------------------------------------------- labels
def test_case_labels_are_a_keyed_permutation() -> None:
    key = hashlib.sha256(b"k").digest()
    labels = [case_label(i, key) for i in range(1, 60_000)]
    assert len(set(labels)) == len(labels)
    assert all(len(label) == 5 for label in labels)
    other = [case_label(i, b"another key") for i in range(1, 100)]
    assert sum(a == b for a, b in zip(labels, other, strict=False)) < 3
    assert len(case_label(2**24 + 5, key)) == 8 and case_label(2**24 + 5, key) not in labels
    with pytest.raises(ValueError):
        case_label(-1, key)


# --------------------------------------------------------------------- texts
def test_the_texts_file_names_every_state_role_and_outcome() -> None:
    data = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))
    assert problems(data) == []
    texts = Texts()
    assert texts.get("resultados", Outcome.STOPPED_ANSWERING) == "Dejó de responder"
    assert texts.get("roles", Role.TRAINER) == "Entrenadora"
    assert texts.get("estados", TicketStatus.WAITING) == "En espera"
    assert "24 horas" in texts.whatsapp_error(131047)
    assert texts.whatsapp_error(999999) == texts.whatsapp_error(None)
    assert problems({"resultados": {}}) != []


def test_a_broken_texts_file_keeps_the_previous_texts(tmp_path) -> None:
    path = tmp_path / "textos.yml"
    path.write_text(DEFAULT_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    texts = Texts(path)
    before = texts.message("claimed")
    path.write_text("mensajes: [roto", encoding="utf-8")
    import os

    os.utime(path, (1, 1))
    assert texts.message("claimed") == before
