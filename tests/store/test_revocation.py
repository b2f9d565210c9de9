"""A message she deletes in WhatsApp leaves her tracker and the console's transcript."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from rasa.core.lock_store import InMemoryLockStore
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from channels.whatsapp import inbox
from channels.whatsapp.inbound import parse_update
from channels.whatsapp.tables import dispose
from console.texts import Texts
from console.transcript import transcript_lines
from simulator import webhooks as wh
from store.crypto import data_keyring
from store.revocation import RETRY_SECONDS, apply_pending
from store.tracker_store import EncryptedSQLTrackerStore
from triage.levels import TriageMap

HER = "56966660001"
DELETED, KEPT = "me pegó anoche y tengo miedo", "hola"


@pytest.fixture
def trackers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             domain) -> Iterator[EncryptedSQLTrackerStore]:
    url = f"sqlite:///{tmp_path / 'helpline.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HELPLINE_DATA_KEY", Fernet.generate_key().decode())
    yield EncryptedSQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "tracker.db"),
                                   keyring=data_keyring())
    dispose(url)


def _revoke(wamid: str, now: float | None = None) -> None:
    inbox.store_update(parse_update(wh.update(messages=[wh.revoke_message(HER, wamid)]),
                                    wh.SANDBOX_PHONE_NUMBER_ID), now=now)


async def test_deleted_message_leaves_tracker_and_transcript(trackers) -> None:
    events = [ActionExecuted("action_session_start"), SessionStarted(),
              UserUttered(KEPT, {"name": "saludar", "confidence": 1.0}, message_id="wamid.K"),
              BotUttered("Hola, ¿en qué te ayudo?"),
              UserUttered(DELETED, {"name": "violencia_fisica", "confidence": 0.9},
                          message_id="wamid.D", metadata={"wa_message_id": "wamid.D"})]
    await trackers.save(DialogueStateTracker.from_events(HER, events, trackers.domain.slots))
    await trackers.retrieve(HER)  # cached
    _revoke("wamid.D")

    assert await apply_pending(trackers, InMemoryLockStore()) == 1

    tracker = await trackers.retrieve_full_tracker(HER)
    users = [e for e in tracker.events if isinstance(e, UserUttered)]
    assert [u.text for u in users] == [KEPT, ""]
    assert users[1].intent_name == "violencia_fisica"  # the dialogue keeps its state
    assert users[1].metadata.get("revoked") is True
    assert (await trackers.retrieve(HER)).latest_message.text == ""
    dumped = [e.as_dict() for e in tracker.events]
    assert DELETED not in str(dumped)
    lines = transcript_lines(dumped, TriageMap(rules={}), Texts())
    assert [line.text for line in lines if line.kind == "user"] == [
        KEPT, "Ella eliminó este mensaje en WhatsApp."]
    assert inbox.pending_revokes() == []
    assert await apply_pending(trackers, InMemoryLockStore()) == 0


async def test_revoke_before_its_turn_is_tried_again_then_settled(trackers) -> None:
    events = [ActionExecuted("action_session_start"), SessionStarted(),
              UserUttered(KEPT, {"name": "saludar"}, message_id="wamid.K")]
    await trackers.save(DialogueStateTracker.from_events(HER, events, trackers.domain.slots))
    _revoke("wamid.NOT_YET")
    assert await apply_pending(trackers, InMemoryLockStore()) == 0
    assert len(inbox.pending_revokes()) == 1
    later = time.time() + RETRY_SECONDS + 1
    assert await apply_pending(trackers, InMemoryLockStore(), now=later) == 1
