"""Custom actions with real rasa-sdk trackers and dispatchers, and a real queue database."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk.events import ActionExecuted, ConversationPaused, SessionStarted, SlotSet

from actions.conversation_actions import ActionAclarar, ActionMedioNoSoportado
from actions.conversation_state import conversation_level, screening_result
from actions.handoff_actions import (
    ActionAlertaEmergencia,
    ActionHandoff,
    ActionSessionStart,
    ValidateFormularioContacto,
)
from actions.services_actions import ActionInfoCentros
from actions.triage_actions import ActionResultadoEvaluacion, ValidateFormularioEmergencia
from handoff.priority import EMERGENCY, HIGH_RISK, PERSON, RISK
from tests.bot.conftest import make_tracker, user_event

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "servicios_prueba.csv"
DOMAIN: dict = {}


def texts(dispatcher) -> list[str]:
    return [m.get("text") or m.get("response") for m in dispatcher.messages]


def responses(dispatcher) -> list[str]:
    return [m.get("response") for m in dispatcher.messages]


# --- level of the conversation ------------------------------------------------------------

def test_conversation_level_is_the_most_severe_reading_of_the_session():
    events = [
        user_event("emergencia_ahora", level="emergency"),
        {"event": "session_started"},
        user_event("violencia_psicologica", level="risk"),
        user_event("afirmar"),  # a button payload: no reading, the triage file gives 'other'
    ]
    assert conversation_level(make_tracker(events)) == "risk"


def test_conversation_level_reads_payloads_through_the_triage_file():
    assert conversation_level(make_tracker([user_event("violencia_fisica")])) == "risk"
    assert conversation_level(make_tracker([])) == "other"


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
    # listening after the pause: her first message after the case is closed follows the rules
    assert result == [ConversationPaused(), ActionExecuted("action_listen")]
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
    (message,) = dispatcher.messages
    assert message["response"] == "utter_derivacion_lugar" and message["lugar"] == 2


async def test_emergency_handoff_gives_no_place_in_queue(dispatcher, queue):
    agent = queue.create_agent("ana", "x")
    queue.touch_agent(agent.id)
    queue.open_ticket("otra", "emergency", EMERGENCY, "Emergencia")
    tracker = make_tracker([user_event("emergencia_ahora", level="emergency")],
                           slots={"puede_escribir": True})
    await ActionHandoff().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_derivacion_emergencia"]


@pytest.fixture()
def closed_today(tmp_path, monkeypatch):
    today = datetime.now(ZoneInfo("America/Santiago")).date()
    days = "\n".join(f"  {d}: '09:00-18:00'" for d in ("lunes", "martes", "miercoles", "jueves",
                                                       "viernes", "sabado", "domingo"))
    path = tmp_path / "horario.yml"
    path.write_text(f"dias:\n{days}\nferiados: [{today}, {today + timedelta(days=1)}]\n",
                    encoding="utf-8")
    monkeypatch.setenv("HORARIO_PATH", str(path))
    return today + timedelta(days=2)


async def test_outside_hours_she_is_told_when_specialists_are_back(dispatcher, queue, closed_today):
    tracker = make_tracker([user_event("pedir_persona")], slots={"contacto_seguro": "sí"})
    result = await ActionHandoff().run(dispatcher, tracker, DOMAIN)
    (message,) = dispatcher.messages
    assert message["response"] == "utter_fuera_de_horario"
    assert message["vuelta"].endswith("a las 09:00") and message["vuelta"].startswith("el ")
    assert ConversationPaused() in result  # the ticket still queues
    assert queue.open_ticket_for("56911112222").status == "waiting"


async def test_outside_hours_an_emergency_is_still_ticketed_at_once(dispatcher, queue, closed_today):
    tracker = make_tracker([user_event("emergencia_ahora", level="emergency")])
    await ActionAlertaEmergencia().run(dispatcher, tracker, DOMAIN)
    assert queue.open_ticket_for("56911112222").priority == EMERGENCY


async def test_handoff_when_not_safe_to_write(dispatcher, queue):
    tracker = make_tracker([user_event("violencia_psicologica", level="risk")],
                           slots={"contacto_seguro": "no es seguro escribirle"})
    await ActionHandoff().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_no_escribir_primero"]
    assert queue.open_ticket_for("56911112222").priority == RISK


async def test_handoff_without_a_queue_does_not_pause(dispatcher, monkeypatch):
    def broken():
        raise RuntimeError("database down")

    monkeypatch.setattr("actions.handoff_actions.get_queue", broken)
    monkeypatch.setattr("actions.handoff_actions.TICKET_RETRY_PAUSE", 0)
    result = await ActionHandoff().run(dispatcher, make_tracker([], {"nivel": "risk"}), DOMAIN)
    assert result == []  # paused without a ticket, nobody would ever answer
    # never «nobody is online» when the truth is that the ticket could not be saved
    assert responses(dispatcher) == ["utter_derivacion_fallida"]


async def test_emergency_ticket_is_retried(dispatcher, queue, monkeypatch):
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("database locked")
        return queue

    monkeypatch.setattr("actions.handoff_actions.get_queue", flaky)
    monkeypatch.setattr("actions.handoff_actions.TICKET_RETRY_PAUSE", 0)
    tracker = make_tracker([user_event("emergencia_ahora", level="emergency")])
    await ActionAlertaEmergencia().run(dispatcher, tracker, DOMAIN)
    assert len(calls) == 3 and queue.open_ticket_for("56911112222").priority == EMERGENCY


async def test_emergency_ticket_final_failure_is_critical_without_number(dispatcher, monkeypatch,
                                                                          caplog):
    def broken():
        raise RuntimeError("database down")

    monkeypatch.setattr("actions.handoff_actions.get_queue", broken)
    monkeypatch.setattr("actions.handoff_actions.TICKET_RETRY_PAUSE", 0)
    tracker = make_tracker([user_event("emergencia_ahora", level="emergency",
                                       text="me esta pegando")])
    with caplog.at_level(logging.WARNING):
        assert await ActionAlertaEmergencia().run(dispatcher, tracker, DOMAIN) == []
    critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 1 and "EMERGENCY TICKET NOT CREATED" in critical[0].getMessage()
    assert all("56911112222" not in r.getMessage() and "pegando" not in r.getMessage()
               for r in caplog.records)


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


def test_unclear_contact_answer_is_asked_again_once_then_not_safe(dispatcher):
    form = ValidateFormularioContacto()
    doubt = [user_event("negar", text="no sé, a veces creo que sí")]
    first = form.validate_contacto_seguro("no es seguro escribirle", dispatcher,
                                          make_tracker(doubt), DOMAIN)
    assert first == {"contacto_seguro": None, "contacto_repreguntado": True}
    second = form.validate_contacto_seguro("no sé", dispatcher,
                                           make_tracker(doubt, {"contacto_repreguntado": True}),
                                           DOMAIN)
    assert second["contacto_seguro"].startswith("no es seguro escribirle")


def test_clear_contact_answers_are_kept(dispatcher):
    form = ValidateFormularioContacto()
    tapped = [user_event("afirmar", text="/afirmar", payload=True)]
    assert form.validate_contacto_seguro("sí, es seguro", dispatcher, make_tracker(tapped),
                                         DOMAIN) == {"contacto_seguro": "sí, es seguro"}
    hours = [user_event("nlu_fallback", text="despues de las 8 de la noche")]
    assert form.validate_contacto_seguro("despues de las 8 de la noche", dispatcher,
                                         make_tracker(hours), DOMAIN) == {
        "contacto_seguro": "despues de las 8 de la noche"}


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
    (message,) = dispatcher.messages
    assert message["response"] == "utter_centros_en_comuna" and message["comuna"] == "La Florida"
    assert "Calle Ficticia 123" in message["servicios"]


async def test_comuna_without_entries_gets_1455(dispatcher, services):
    tracker = make_tracker([user_event("informar_ubicacion")], slots={"comuna": "Arica"})
    await ActionInfoCentros().run(dispatcher, tracker, DOMAIN)
    (message,) = dispatcher.messages
    assert message["response"] == "utter_sin_centros" and message["comuna"] == "Arica"


async def test_unknown_comuna_is_asked(dispatcher, services):
    await ActionInfoCentros().run(dispatcher, make_tracker([user_event("info_centros")]), DOMAIN)
    assert responses(dispatcher) == ["utter_preguntar_comuna"]


async def test_shared_location_gives_the_nearest(dispatcher, services):
    event = user_event("compartir_ubicacion", location={"latitude": -38.74, "longitude": -72.6})
    await ActionInfoCentros().run(dispatcher, make_tracker([event]), DOMAIN)
    (message,) = dispatcher.messages
    assert message["response"] == "utter_centros_cercanos" and "Temuco" in message["servicios"]


@pytest.mark.parametrize("estimate, expected", [(12, "utter_derivacion_fila"),
                                                (960, "utter_derivacion_lugar")])
def test_a_wait_of_hours_is_not_stated(queue, monkeypatch, estimate, expected):
    from actions.handoff_actions import _handoff_message

    ticket = queue.open_ticket("56911119999", "risk", RISK, "Relato de violencia")
    monkeypatch.setattr(type(queue), "online_agents", lambda self, *a, **k: 1)
    monkeypatch.setattr(type(queue), "estimated_wait_minutes", lambda self, *a, **k: estimate)
    tracker = make_tracker([user_event("violencia_fisica", level="risk")],
                           slots={"contacto_seguro": "sí, es seguro"})
    response, values = _handoff_message(tracker, "risk", ticket.id)
    assert response == expected
    assert values["lugar"] == 1
