"""Capture through Rasa itself: the trained model parses her messages, Rasa's tracker store
publishes the events to an event broker, the broker calls ``training.capture.consider`` (as
the escalation broker will), and the review queue holds the doubtful ones, redacted."""

from __future__ import annotations

from pathlib import Path

import pytest

from training import capture
from training.items import ReviewStore

MODEL = Path(__file__).resolve().parents[2] / "models" / "asistente.tar.gz"

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not MODEL.exists(), reason="needs a trained model: make train")]


async def test_rasa_event_broker_feeds_the_review_queue(review: ReviewStore) -> None:
    from rasa.core.agent import Agent
    from rasa.core.brokers.broker import EventBroker
    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.events import UserUttered

    published: list[dict] = []

    class Broker(EventBroker):
        def publish(self, event: dict) -> None:
            published.append(event)
            capture.consider(event)

    agent = Agent.load(str(MODEL))
    store = InMemoryTrackerStore(agent.domain, event_broker=Broker())
    tracker = await store.get_or_create_tracker("56987654321")
    texts = [
        "hola",
        "me esta pegando ahora ayuda",
        "afuera llueve caleta y no tengo paraguas xd, llamame al 987654321",
        "q onda el bicho raro ese de la tele, me llamo Yesenia Cáceres jaja",
    ]
    for text in texts:
        parse = await agent.parse_message(text)
        tracker.update(UserUttered(text, parse["intent"], parse["entities"], parse))
    await store.save(tracker)
    assert capture.flush()
    assert [e["text"] for e in published if e["event"] == "user"] == texts
    items = {item.text: item for item in review.items()}
    assert "hola" not in items and "me esta pegando ahora ayuda" not in items
    assert "afuera llueve caleta y no tengo paraguas xd, llamame al <telefono>" in items
    assert all("987654321" not in text and "Yesenia" not in text for text in items)
