"""A whole conversation through the phone on the embedded stack, then Rasa's tracker
database read raw with sqlite3 (every cell, and the file's bytes): neither her words nor
her number, and the tracker still comes back whole with her real conversation id."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered

from store.crypto import KeyRing, parse_keys
from store.tracker_store import EncryptedSQLTrackerStore
from tests.integration.conftest import ROOT
from tests.store.raw import leaks

pytestmark = pytest.mark.integration

WORDS = ["hola", "me pega cuando toma y tengo miedo", "vivo en Lo Espejo"]


def _texts(store, wa_id: str) -> list[str]:
    tracker = asyncio.run(store.retrieve_full_tracker(wa_id))
    return [e.text for e in tracker.events if isinstance(e, UserUttered)] if tracker else []


def test_the_sqlite_tracker_file_shows_neither_her_words_nor_her_number(stack, phone):
    path = stack.state_dir / "tracker.db"
    key_file = stack.env()["HELPLINE_DATA_KEY_FILE"]
    ring = KeyRing(tuple(parse_keys(open(key_file, encoding="ascii").read())))
    store = EncryptedSQLTrackerStore(Domain.load(str(ROOT / "domain.yml")), dialect="sqlite",
                                     db=str(path), keyring=ring, cache_size=0)
    for text in WORDS:
        phone.write(text)
        phone.replies(count=1)
    deadline = time.monotonic() + 30
    while _texts(store, phone.wa_id)[-3:] != WORDS and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _texts(store, phone.wa_id)[-3:] == WORDS
    assert asyncio.run(store.retrieve_full_tracker(phone.wa_id)).sender_id == phone.wa_id

    with sqlite3.connect(path) as connection:
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = connection.execute("SELECT sender_id, intent_name, action_name FROM events").fetchall()
    assert "events" in tables and len(rows) > 10
    assert {r[1] for r in rows} == {None} and {r[2] for r in rows} == {None}
    assert leaks(f"sqlite:///{path}", [*WORDS[1:], "Lo Espejo", phone.wa_id]) == []
