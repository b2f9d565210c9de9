"""Custom actions with real rasa-sdk trackers and dispatchers, and a real queue database."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa_sdk.events import ConversationPaused, SessionStarted, SlotSet

from actions.conversation_actions import ActionAclarar, ActionMedioNoSoportado
from actions.conversation_state import conversation_level, screening_result
from actions.handoff_actions import (
    ActionAlertaEmergencia,
    ActionHandoff,
    ActionSessionStart,
    ValidateFormularioContacto,
)
from actions.services_actions import ActionInfoCentros
from actions.triage_actions import (
    ActionNivelTriage,
    ActionResultadoEvaluacion,
    ValidateFormularioEmergencia,
)
from handoff.priority import EMERGENCY, HIGH_RISK, PERSON, RISK
from tests.bot.conftest import make_tracker, user_event

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "servicios_prueba.csv"
DOMAIN: dict = {}


def texts(dispatcher) -> list[str]:
    return [m.get("text") or m.get("response") for m in dispatcher.messages]


def responses(dispatcher) -> list[str]:
    return [m.get("response") for m in dispatcher.messages]


# --- nivel slot -------------------------------------------------------------------------

async def test_nivel_comes_from_the_nlu_reading(dispatcher):
    tracker = make_tracker([user_event("saludar", level="emergency")])
    events = await ActionNivelTriage().run(dispatcher, tracker, DOMAIN)
    assert events == [SlotSet("nivel", "emergency")]


async def test_nivel_of_a_button_payload_comes_from_the_triage_file(dispatcher):
    tracker = make_tracker([user_event("violencia_fisica")])  # payloads carry no reading
    assert await ActionNivelTriage().run(dispatcher, tracker, DOMAIN) == [SlotSet("nivel", "risk")]


def test_conversation_level_is_the_most_severe_of_the_session():
    events = [
        {"event": "slot", "name": "nivel", "value": "emergency"},
        {"event": "session_started"},
        {"event": "slot", "name": "nivel", "value": "risk"},
        {"event": "slot", "name": "nivel", "value": "other"},
    ]
    assert conversation_level(make_tracker(events, slots={"nivel": "other"})) == "risk"


# --- screening ---------------------------------------------------------------------------

ITEMS = ["riesgo_frecuencia", "riesgo_arma", "riesgo_capaz_matar", "riesgo_estrangulamiento",
         "riesgo_celos"]


@pytest.mark.parametrize("answers,expected", [
    (["si", "no", "no", "si", "si"], "alto"),  # three yes
    (["no", "si", "no", "no", "no"], "alto"),  # weapon
    (["no", "no", "si", "no", "no"], "alto"),  # capable of killing
    (["si", "no", "no", "si", "no"], "no_alto"),
    (["no", "no", "no", "no", "no"], "no_alto"),
    (["si", "omitida", "no", None, "no"], "incompleta"),
    (["omitida", "omitida", "si", None, None], "alto"),
])
def test_da5_scoring(answers, expected):
    assert screening_result(dict(zip(ITEMS, answers, strict=False))) == expected


async def test_result_action_says_it_is_not_a_diagnosis(dispatcher):
    tracker = make_tracker([], slots=dict(zip(ITEMS, ["si", "si", "si", "no", "no"], strict=False)))
    events = await ActionResultadoEvaluacion().run(dispatcher, tracker, DOMAIN)
    assert events == [SlotSet("resultado_evaluacion", "alto")]
    assert responses(dispatcher) == ["utter_resultado_alto"]


# --- handoff -----------------------------------------------------------------------------

async def test_handoff_creates_a_ticket_and_pauses(dispatcher, queue):
    slots = {"nivel": "other", "contacto_seguro": "sí, es seguro", "resultado_evaluacion": "alto",
             **dict(zip(ITEMS, ["si", "si", "si", "no", "no"], strict=False))}
    events = [{"event": "slot", "name": "nivel", "value": "risk"},
              user_event("violencia_fisica", level="risk")]
    tracker = make_tracker(events, slots=slots)
    result = await ActionHandoff().run(dispatcher, tracker, DOMAIN)
    assert result == [ConversationPaused()]
    ticket = queue.open_ticket_for("56911112222")
    assert (ticket.level, ticket.priority, ticket.status) == ("risk", HIGH_RISK, "waiting")
    assert ticket.reason == "Relato de violencia: violencia fisica"
    assert ticket.safe_contact == "sí, es seguro"
    assert ticket.screening["result"] == "alto"
    assert ticket.screening["answers"]["riesgo_arma"] == "si"
    # nobody online: she is told so and given the lines
    assert responses(dispatcher) == ["utter_sin_especialistas"]


async def test_handoff_tells_her_place_in_queue_when_someone_is_online(dispatcher, queue):
    agent = queue.create_agent("ana", "x")
    queue.touch_agent(agent.id)
    queue.open_ticket("otra", "emergency", EMERGENCY, "Emergencia")
    tracker = make_tracker([user_event("pedir_persona")], slots={"nivel": "other",
                                                                  "contacto_seguro": "sí"})
    await ActionHandoff().run(dispatcher, tracker, DOMAIN)
    assert queue.open_ticket_for("56911112222").priority == PERSON
    assert "lugar 2 de la fila" in texts(dispatcher)[0]


async def test_handoff_when_not_safe_to_write(dispatcher, queue):
    tracker = make_tracker([], slots={"nivel": "risk", "contacto_seguro": "no es seguro escribirle"})
    await ActionHandoff().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_no_escribir_primero"]
    assert queue.open_ticket_for("56911112222").priority == RISK


async def test_handoff_without_a_queue_does_not_pause(dispatcher, monkeypatch):
    def broken():
        raise RuntimeError("database down")

    monkeypatch.setattr("actions.handoff_actions.get_queue", broken)
    result = await ActionHandoff().run(dispatcher, make_tracker([], {"nivel": "risk"}), DOMAIN)
    assert result == []  # paused without a ticket, nobody would ever answer
    assert responses(dispatcher) == ["utter_sin_especialistas"]


async def test_emergency_ticket_exists_before_any_question(dispatcher, queue):
    tracker = make_tracker([user_event("emergencia_ahora", level="emergency")],
                           slots={"nivel": "emergency"})
    assert await ActionAlertaEmergencia().run(dispatcher, tracker, DOMAIN) == []
    ticket = queue.open_ticket_for("56911112222")
    assert (ticket.priority, ticket.level) == (EMERGENCY, "emergency")
    assert ticket.reason == "Emergencia: emergencia ahora"


async def test_session_start_keeps_a_waiting_conversation_paused(dispatcher, queue):
    tracker = make_tracker([])
    events = await ActionSessionStart().run(dispatcher, tracker, DOMAIN)
    assert events[0] == SessionStarted() and ConversationPaused() not in events
    queue.open_ticket("56911112222", "risk", RISK, "Relato de violencia")
    events = await ActionSessionStart().run(dispatcher, tracker, DOMAIN)
    assert events[0] == SessionStarted() and ConversationPaused() in events
    assert events[-1]["name"] == "action_listen"


# --- forms -------------------------------------------------------------------------------

async def test_emergency_form_asks_nothing_more_if_she_cannot_write(dispatcher):
    form = ValidateFormularioEmergencia()
    slots = ["puede_escribir", "ubicacion"]
    can = make_tracker([], {"puede_escribir": True})
    cannot = make_tracker([], {"puede_escribir": False})
    assert await form.required_slots(slots, dispatcher, can, DOMAIN) == slots
    assert await form.required_slots(slots, dispatcher, cannot, DOMAIN) == ["puede_escribir"]


def test_emergency_location_answer_keeps_the_comuna(dispatcher):
    form = ValidateFormularioEmergencia()
    slots = form.validate_ubicacion("en la casa de mi mama en pte alto", dispatcher,
                                    make_tracker(), DOMAIN)
    assert slots["comuna"] == "Puente Alto" and slots["region"].startswith("Región Metropolitana")
    assert form.validate_ubicacion("no se", dispatcher, make_tracker(), DOMAIN) == {"ubicacion": "no se"}


def test_contact_answer_is_kept_short(dispatcher):
    result = ValidateFormularioContacto().validate_contacto_seguro("a" * 500, dispatcher,
                                                                    make_tracker(), DOMAIN)
    assert len(result["contacto_seguro"]) == 120


# --- fallback, media, services --------------------------------------------------------------

async def test_two_fallbacks_in_a_row_offer_a_person(dispatcher):
    first = make_tracker([user_event("saludar"), user_event("nlu_fallback")])
    await ActionAclarar().run(dispatcher, first, DOMAIN)
    assert responses(dispatcher) == ["utter_no_entendi", "utter_menu"]
    dispatcher.messages.clear()
    second = make_tracker([user_event("nlu_fallback"), user_event("nlu_fallback")])
    await ActionAclarar().run(dispatcher, second, DOMAIN)
    assert responses(dispatcher) == ["utter_ofrecer_persona"]


async def test_media_is_answered_from_the_domain(dispatcher):
    """The channel no longer answers media itself: the bot does, with the trainers' text."""
    from_channel = make_tracker([user_event("medio_no_soportado", media_type="audio")])
    await ActionMedioNoSoportado().run(dispatcher, from_channel, DOMAIN)
    assert responses(dispatcher) == ["utter_solo_texto"]
    dispatcher.messages.clear()
    typed = make_tracker([user_event("medio_no_soportado")])
    await ActionMedioNoSoportado().run(dispatcher, typed, DOMAIN)
    assert responses(dispatcher) == ["utter_solo_texto"]


@pytest.fixture()
def services(monkeypatch):
    monkeypatch.setenv("SERVICIOS_PATH", str(FIXTURE))


async def test_services_by_comuna(dispatcher, services):
    tracker = make_tracker([user_event("informar_ubicacion")], slots={"comuna": "La Florida"})
    await ActionInfoCentros().run(dispatcher, tracker, DOMAIN)
    (text,) = texts(dispatcher)
    assert "En La Florida" in text and "Calle Ficticia 123" in text


async def test_comuna_without_entries_gets_1455(dispatcher, services):
    tracker = make_tracker([user_event("informar_ubicacion")], slots={"comuna": "Arica"})
    await ActionInfoCentros().run(dispatcher, tracker, DOMAIN)
    assert "1455" in texts(dispatcher)[0] and "Arica" in texts(dispatcher)[0]


async def test_unknown_comuna_is_asked(dispatcher, services):
    await ActionInfoCentros().run(dispatcher, make_tracker([user_event("info_centros")]), DOMAIN)
    assert responses(dispatcher) == ["utter_preguntar_comuna"]


async def test_shared_location_gives_the_nearest(dispatcher, services):
    event = user_event("compartir_ubicacion", location={"latitude": -38.74, "longitude": -72.6})
    await ActionInfoCentros().run(dispatcher, make_tracker([event]), DOMAIN)
    assert "Temuco" in texts(dispatcher)[0]
