"""«no me escriban»: the action stores it (keyed, never the number) and answers in one line."""

from __future__ import annotations

from pathlib import Path

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import text

from actions.contact_actions import ActionNoEscribir
from actions.queue_access import get_queue
from handoff.queue import HandoffQueue

ROOT = Path(__file__).resolve().parents[2]


def tracker(sender: str) -> Tracker:
    parse = {"intent": {"name": "no_escribir", "confidence": 0.9}, "entities": [],
             "text": "no me escriban"}
    event = {"event": "user", "text": "no me escriban", "parse_data": parse}
    return Tracker(sender, {}, parse, [event], False, None, {}, "action_listen")


async def test_the_action_stores_the_preference_and_confirms(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'q.db'}")
    monkeypatch.setenv("HELPLINE_DATA_KEY", "A" * 43 + "=")
    get_queue.cache_clear()
    try:
        dispatcher = CollectingDispatcher()
        assert await ActionNoEscribir().run(dispatcher, tracker("56911112222"), {}) == []
        assert [m["response"] for m in dispatcher.messages] == ["utter_no_escribir_primero"]
        queue: HandoffQueue = get_queue()
        assert queue.no_contact_since("56911112222") is not None
        assert queue.no_contact_since("56933334444") is None
        with queue.engine.connect() as conn:
            stored = str(conn.execute(text("SELECT * FROM handoff_contact_preferences")).all())
        assert "56911112222" not in stored
        queue.set_no_contact("56911112222", False)
        assert queue.no_contact_since("56911112222") is None
    finally:
        get_queue.cache_clear()


async def test_the_answer_does_not_depend_on_the_queue(monkeypatch) -> None:
    def broken():  # noqa: ANN202
        raise RuntimeError("database down")

    monkeypatch.setattr("actions.contact_actions.get_queue", broken)
    dispatcher = CollectingDispatcher()
    await ActionNoEscribir().run(dispatcher, tracker("56911112222"), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_no_escribir_primero"]


def test_the_intent_is_wired_for_trainers() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert "no_escribir" in domain["intents"] and "action_no_escribir" in domain["actions"]
    assert "utter_cierre_especialista" in domain["responses"]
    triage = yaml.safe_load((ROOT / "data/triage.yml").read_text(encoding="utf-8"))
    assert triage["intenciones"]["no_escribir"] == {
        "nivel": "other", "derivar": False,
        "descripcion": triage["intenciones"]["no_escribir"]["descripcion"]}
    nlu = yaml.safe_load((ROOT / "data/nlu/no_escribir.yml").read_text(encoding="utf-8"))
    examples = [line[2:] for line in nlu["nlu"][0]["examples"].splitlines() if line.strip()]
    assert len(examples) >= 40 and len(set(examples)) == len(examples)
    rules = yaml.safe_load((ROOT / "data/rules.yml").read_text(encoding="utf-8"))["rules"]
    assert any(r["steps"] == [{"intent": "no_escribir"}, {"action": "action_no_escribir"}]
               for r in rules)
