"""A realistic shift for the browser tests and the screenshots: specialists, waiting cases
(one late), a case in progress whose transcript has buttons, a location and a «salir», and a
month of closed cases for the reports."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import update

from handoff.models import ContactStat, HandoffStat, Ticket
from handoff.priority import EMERGENCY, HIGH_RISK, PERSON, RISK
from handoff.queue import HandoffQueue

PHONE = "56987654321"
REGIONS = ("Región Metropolitana de Santiago", "Región de Valparaíso", "Región del Biobío",
           "Región de La Araucanía", "Región de Los Lagos")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def backdate(queue: HandoffQueue, ticket_id: int, minutes: float) -> None:
    with queue.engine.begin() as conn:
        conn.execute(update(Ticket).where(Ticket.id == ticket_id)
                     .values(created_at=utcnow() - timedelta(minutes=minutes)))


def _user(text: str, intent: str, ts: float, level: str | None = None, **meta) -> dict:
    parse = {"intent": {"name": intent, "confidence": 0.9}, "entities": []}
    if level:
        parse["triage"] = {"level": level, "handoff": True}
    return {"event": "user", "text": text, "timestamp": ts, "parse_data": parse,
            "metadata": meta}


def _bot(text: str, ts: float, buttons: list[tuple[str, str]] | None = None, **meta) -> dict:
    event = {"event": "bot", "text": text, "timestamp": ts, "metadata": meta}
    if buttons:
        event["data"] = {"buttons": [{"title": t, "payload": p} for t, p in buttons]}
    return event


def transcript(now: float) -> list[dict]:
    """Her emergency, the question with buttons, her location, a «salir» and her return."""
    return [
        {"event": "session_started", "timestamp": now - 900},
        _user("hola", "saludar", now - 880),
        _bot("Hola 💜 Este chat es gratis y confidencial.\nSi estás en peligro ahora, llama "
             "al 133.", now - 879),
        _user("mi pareja me está pegando, está afuera de la pieza", "emergencia_ahora",
              now - 860, "emergency"),
        _bot("Si puedes, llama ahora al 133 (Carabineros) o al 149 (Fono Familia). Estoy aquí "
             "y aviso a una especialista.", now - 859),
        _bot("¿Puedes seguir escribiendo sin peligro?", now - 858,
             [("Sí, puedo", "/afirmar"), ("No puedo", "/negar")]),
        _user("/afirmar", "afirmar", now - 840),
        {"event": "slot", "name": "puede_escribir", "value": True, "timestamp": now - 840},
        _bot("¿En qué comuna estás? Si puedes, envía tu ubicación 📍", now - 839),
        _user("/compartir_ubicacion", "compartir_ubicacion", now - 820,
              location={"latitude": -36.8201, "longitude": -73.0444, "name": "Concepción"}),
        {"event": "slot", "name": "comuna", "value": "Concepción", "timestamp": now - 820},
        _user("salir", "salir", now - 700),
        _bot("Hasta luego. Para borrar este chat, mantenlo presionado y toca «Eliminar».",
             now - 699),
        {"event": "restart", "timestamp": now - 699},
        {"event": "session_started", "timestamp": now - 400},
        _user("ya se fue, estoy sola ahora", "nlu_fallback", now - 380),
        {"event": "pause", "timestamp": now - 300},
        _bot("Hola, soy Carla, especialista. Estoy contigo. ¿Estás en un lugar seguro ahora?",
             now - 240, source="console", agent="carla"),
        _user("si, en la casa de mi hermana", "afirmar", now - 200),
        _user("tengo un moretón en el brazo", "violencia_fisica", now - 190, "risk"),
    ]


@dataclass
class Shift:
    supervisor: int
    carla: int
    dana: int
    in_progress: int
    late: int
    waiting: list[int]


def build(queue: HandoffQueue, trackers: dict, make_agent) -> Shift:  # noqa: ANN001
    """Accounts and cases; ``trackers`` is the fake Rasa's conversations."""
    sara = make_agent(queue, "sara", "supervisor")
    carla = make_agent(queue, "carla")
    dana = make_agent(queue, "dana")
    make_agent(queue, "tere", "trainer")
    for agent in (carla, dana, sara):
        queue.touch_agent(agent)
    now = time.time()
    trackers[PHONE] = {"sender_id": PHONE, "paused": True, "events": transcript(now)}
    case = queue.open_ticket(PHONE, "emergency", EMERGENCY, "Emergencia: emergencia ahora",
                             region="Región del Biobío")
    with queue.engine.begin() as conn:
        conn.execute(update(Ticket).where(Ticket.id == case.id).values(
            created_at=utcnow() - timedelta(seconds=859)))
    queue.claim(case.id, carla)
    queue.record_first_reply(case.id)
    late = queue.open_ticket("56911110001", "emergency", EMERGENCY,
                             "Emergencia: emergencia ahora", safe_contact="no puede escribir "
                             "sin peligro (emergencia)")
    backdate(queue, late.id, 3.5)
    high = queue.open_ticket("56911110002", "risk", HIGH_RISK, "Relato de violencia: amenazas",
                             screening={"answers": {"riesgo_arma": "si"}, "result": "alto"},
                             safe_contact="sí, es seguro")
    backdate(queue, high.id, 6)
    risk = queue.open_ticket("56911110003", "risk", RISK,
                             "Relato de violencia: violencia psicologica",
                             safe_contact="después de las 19 h")
    backdate(queue, risk.id, 12)
    person = queue.open_ticket("56911110004", "other", PERSON, "Pide hablar con una persona")
    backdate(queue, person.id, 20)
    held = queue.open_ticket("56911110005", "risk", RISK, "Relato de violencia: acoso expareja")
    queue.claim(held.id, dana)
    return Shift(sara, carla, dana, case.id, late.id, [late.id, high.id, risk.id, person.id])


def history(queue: HandoffQueue, days: int = 60) -> None:
    """Anonymous rows for the reports: a few cases a day, as a month of service would leave."""
    rows = []
    start = utcnow().replace(second=0, microsecond=0) - timedelta(days=days)
    outcomes = ("orientacion", "derivada_centro", "emergencia_derivada", "sin_respuesta",
                "orientacion", "no_violencia")
    for day in range(days):
        for i in range(6 + (day * 7) % 13):
            opened = start + timedelta(days=day, hours=9 + i % 12, minutes=(i * 17) % 60)
            level = ("emergency", "risk", "risk", "info", "other", "risk")[(day + i) % 6]
            reply = None if (day + i) % 11 == 0 else 40 + ((day * 31 + i * 53) % 900)
            rows.append(HandoffStat(
                opened_at=opened, level=level, priority={"emergency": 1, "risk": 3}.get(level, 4),
                escalated=False, first_reply_seconds=reply,
                closed_at=opened + timedelta(minutes=25), outcome=outcomes[(day + 2 * i) % 6],
                tags=["violencia_psicologica"] if i % 3 == 0 else None,
                region=REGIONS[(day + i) % 5] if i % 2 == 0 else None,
                abandoned=reply is None))
        for j in range(10 + (day * 5) % 17):
            rows.append(ContactStat(
                started_at=(start + timedelta(days=day, hours=8 + j)).replace(minute=0),
                first_in_day=j % 5 != 4, first_in_week=j % 3 != 2, first_in_month=j % 4 == 0))
    with queue._session() as s:  # noqa: SLF001 - seeding the statistics table directly
        s.add_all(rows)
