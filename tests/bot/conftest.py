"""Fixtures for the bot's actions: a rasa-sdk tracker builder and a fresh queue database."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.queue_access import get_queue


def user_event(intent: str, level: str | None = None, text: str = "x", **metadata: Any) -> dict:
    parse = {"intent": {"name": intent, "confidence": 0.9}, "entities": [], "text": text}
    if level:
        parse["triage"] = {"level": level, "handoff": True, "intent": intent}
    return {"event": "user", "text": text, "parse_data": parse, "metadata": metadata}


def make_tracker(
    events: list[dict] | None = None,
    slots: dict[str, Any] | None = None,
    sender_id: str = "56911112222",
) -> Tracker:
    events = events or []
    users = [e for e in events if e.get("event") == "user"]
    latest = users[-1]["parse_data"] | {"metadata": users[-1].get("metadata") or {}} if users else {}
    return Tracker(sender_id, slots or {}, latest, events, False, None, {}, "action_listen")


@pytest.fixture()
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture()
def queue(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'queue.db'}")
    get_queue.cache_clear()
    yield get_queue()
    get_queue.cache_clear()
