"""The review queue: what is captured, how it is stored, purged and fed from closed cases."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from handoff.states import Outcome
from training import capture
from training.capture import consider, reasons_for
from training.items import ReviewReason, ReviewStore, review_items, week_of
from training.outcomes import contradicted
from training.review import purge, queue_closed_case
from training.settings import ReviewSettings
from triage.levels import load_triage_map

SETTINGS = ReviewSettings()
TRIAGE = load_triage_map()


def parse(kind: str, confidence: float, ranking: list[tuple[str, float]] | None = None,
          now: float = 0.0, person: float = 0.0, text: str = "x") -> dict:
    """Parse data as the NLU writes it (the TriageLevel reading is recomputed here)."""
    ranking_rows = [{"name": n, "confidence": c} for n, c in (ranking or [(kind, confidence)])]
    data = {"text": text, "intent": {"name": kind, "confidence": confidence},
            "intent_ranking": ranking_rows, "signals": {"now": now, "person": person}}
    data["triage"] = TRIAGE.reading_of({k: v for k, v in data.items()}).as_dict()
    return data


def user_event(text: str, parse_data: dict) -> dict:
    return {"event": "user", "text": text, "parse_data": parse_data, "sender_id": "56911112222",
            "timestamp": time.time(), "input_channel": "whatsapp"}


def test_a_clear_message_is_not_captured() -> None:
    assert reasons_for(parse("info_denuncia", 0.93), TRIAGE, SETTINGS) == []


@pytest.mark.parametrize("parse_data, reason", [
    (parse("nlu_fallback", 0.3, [("saludar", 0.3)]), ReviewReason.FALLBACK),
    (parse("info_denuncia", 0.42), ReviewReason.LOW_CONFIDENCE),
    (parse("info_denuncia", 0.6, [("info_denuncia", 0.6), ("violencia_fisica", 0.35)]),
     ReviewReason.PROMOTED),
    # danger now close to its floor on a question
    (parse("info_denuncia", 0.9, now=0.5), ReviewReason.SIGNALS),
    # a violence story whose «now» is just below the floor
    (parse("violencia_fisica", 0.9, now=0.55), ReviewReason.SIGNALS),
    # asks for a person, near the floor
    (parse("violencia_psicologica", 0.9, person=0.5), ReviewReason.SIGNALS),
])
def test_each_reason(parse_data: dict, reason: ReviewReason) -> None:
    assert reason in reasons_for(parse_data, TRIAGE, SETTINGS)


def test_captured_message_is_redacted_encrypted_and_unlinked(review: ReviewStore) -> None:
    text = "me llamo yesenia, mi ex me escribe al +56 9 8765 4321 y no se q hacer"
    consider(user_event(text, parse("pedir_orientacion", 0.41)))
    assert capture.flush()
    [item] = review.items()
    assert item.text == "me llamo <nombre>, mi ex me escribe al <telefono> y no se q hacer"
    assert item.reasons == (ReviewReason.LOW_CONFIDENCE,)
    assert item.reading["kind"] == "pedir_orientacion"
    assert item.week == week_of(datetime.now(timezone.utc)) and item.week.weekday() == 0
    with review.engine.connect() as conn:
        row = conn.execute(select(review_items)).one()
    stored = " ".join(str(v) for v in row)
    for secret in ("yesenia", "8765", "56911112222", "orientacion", "whatsapp"):
        assert secret not in stored
    assert set(row._mapping) == {"id", "week", "reason", "payload"}


@pytest.mark.parametrize("event", [
    {"event": "bot", "text": "hola", "sender_id": "a"},
    {"event": "user", "text": "/saludar", "parse_data": parse("saludar", 0.1)},
    {"event": "user", "text": "   ", "parse_data": parse("saludar", 0.1)},
    {"event": "user", "text": "hola", "parse_data": "no es un dict"},
    {"event": "user", "text": "hola"},
    {"event": "user", "text": "hola", "parse_data": {"intent": None, "signals": "x"}},
    {},
])
def test_other_events_and_bad_input_are_ignored_without_raising(review: ReviewStore,
                                                                 event: dict) -> None:
    consider(event)
    assert capture.flush()
    assert review.count() == 0


def test_purge_removes_items_older_than_retention(review: ReviewStore,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    reading = {"kind": "saludar", "level": "other"}
    today = date(2026, 12, 1)
    old = review.add("viejo", [ReviewReason.FALLBACK], reading, week=week_of(today - timedelta(40)))
    new = review.add("nuevo", [ReviewReason.FALLBACK], reading, week=week_of(today))
    monkeypatch.setenv("RETENTION_DAYS", "30")
    assert purge(datetime(2026, 12, 1, tzinfo=timezone.utc), store=review) == 1
    assert [i.id for i in review.items()] == [new]
    assert review.get(old) is None
    monkeypatch.setenv("RETENTION_DAYS", "1")
    assert purge(datetime(2026, 12, 9, tzinfo=timezone.utc), store=review) == 1


def test_queue_stops_at_its_limit(review: ReviewStore) -> None:
    for n in range(3):
        review.add(f"m{n}", [ReviewReason.FALLBACK], {}, max_items=2)
    assert review.count() == 2


def test_take_is_once_and_keeps_the_item_when_the_write_fails(review: ReviewStore) -> None:
    item_id = review.add("hola", [ReviewReason.FALLBACK], {})

    def failing(_item) -> None:
        raise RuntimeError("disco lleno")

    with pytest.raises(RuntimeError):
        review.take(item_id, failing)
    assert review.get(item_id) is not None
    taken = []
    assert review.take(item_id, taken.append).text == "hola"
    assert review.take(item_id, taken.append) is None
    assert len(taken) == 1


@pytest.mark.parametrize("level, outcome, expected", [
    ("emergency", Outcome.NOT_VIOLENCE, True),
    ("risk", Outcome.NOT_VIOLENCE, True),
    ("emergency", Outcome.EMERGENCY_SERVICES, False),
    ("risk", Outcome.EMERGENCY_SERVICES, True),
    ("other", Outcome.EMERGENCY_SERVICES, True),
    ("info", Outcome.NOT_VIOLENCE, False),
    ("other", Outcome.ORIENTATION, False),
    ("risk", Outcome.REFERRED, False),
    ("risk", Outcome.STOPPED_ANSWERING, False),
    ("risk", "algo_desconocido", False),
])
def test_contradicted(level: str, outcome: str, expected: bool) -> None:
    assert contradicted(level, outcome) is expected


def test_a_contradicted_close_queues_the_misread_messages(review: ReviewStore) -> None:
    events = [
        user_event("hola", parse("saludar", 0.99)),
        {"event": "bot", "text": "Hola, soy el asistente"},
        user_event("mi pololo Kevin me mata de la risa jaja", parse(
            "emergencia_ahora", 0.8, now=0.9)),
        user_event("/afirmar", parse("afirmar", 1.0)),
    ]
    assert queue_closed_case(events, "emergency", Outcome.NOT_VIOLENCE, store=review) == 1
    [item] = review.items()
    assert item.text == "mi pololo <nombre> me mata de la risa jaja"
    assert item.reasons == (ReviewReason.CONTRADICTED,)
    assert item.outcome == "no_violencia"
    assert queue_closed_case(events, "emergency", Outcome.EMERGENCY_SERVICES, store=review) == 0
