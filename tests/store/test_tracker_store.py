"""The encrypted, cached tracker store on SQLite and PostgreSQL: nothing readable at rest,
the real conversation id back, key rotation, and no stale tracker across instances."""

from __future__ import annotations

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import EventVerbosity

from store.crypto import KeyRing
from tests.store.raw import every_cell, leaks

PHONE = "56987654321"
WORDS = ["me viola mi pareja cuando toma", "vivo en Puente Alto", "no sé si denunciar"]


async def turn(store, sender: str, text: str, intent: str = "violencia_sexual",
               comuna: str | None = None) -> None:
    """One turn as Rasa does it: read, append her message and the bot's answer, save."""
    tracker = await store.retrieve(sender)
    if tracker is None:
        tracker = store.init_tracker(sender)
        for event in (ActionExecuted("action_session_start"), SessionStarted(),
                      ActionExecuted("action_listen")):
            tracker.update(event)
    entities = [{"entity": "comuna", "value": comuna}] if comuna else []
    tracker.update(UserUttered(text, {"name": intent, "confidence": 0.9}, entities,
                               parse_data={"text": text, "intent": {"name": intent},
                                           "entities": entities}))
    if comuna:
        tracker.update(SlotSet("comuna", comuna))
    tracker.update(ActionExecuted("utter_info_denuncia"))
    tracker.update(BotUttered("Puedes denunciar en Carabineros (133)"))
    tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)


def state(tracker) -> dict:
    return tracker.current_state(EventVerbosity.ALL)


async def test_a_copy_of_the_database_shows_neither_her_words_nor_her_number(make_store):
    store = make_store()
    for text in WORDS:
        await turn(store, PHONE, text, comuna="Puente Alto" if "Puente" in text else None)
    assert leaks(make_store.raw_url, [*WORDS, "Puente Alto", PHONE, "violencia_sexual",
                                      "utter_info_denuncia"]) == []
    engine = sa.create_engine(make_store.raw_url)
    with engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT sender_id, intent_name, action_name, type_name FROM events")).all()
    engine.dispose()
    assert {r.intent_name for r in rows} == {None} and {r.action_name for r in rows} == {None}
    assert {r.sender_id for r in rows} == {store.digest(PHONE)}
    assert {"user", "bot", "action", "slot", "session_started"} <= {r.type_name for r in rows}

    back = await make_store().retrieve(PHONE)  # another instance, nothing cached
    assert back.sender_id == PHONE
    assert [e.text for e in back.events if isinstance(e, UserUttered)] == WORDS
    assert back.get_slot("comuna") == "Puente Alto"
    assert list(await store.keys()) == [PHONE]
    assert await store.exists(PHONE) and not await store.exists("56900000000")


async def test_rotation_old_key_still_reads_new_events_use_the_new_key(make_store):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    await turn(make_store(keyring=KeyRing((old,))), PHONE, WORDS[0])
    rotated = make_store(keyring=KeyRing((new, old)))
    tracker = await rotated.retrieve(PHONE)
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == [WORDS[0]]
    await turn(rotated, PHONE, WORDS[1])

    engine = sa.create_engine(make_store.raw_url)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, sender_id, data FROM events ORDER BY id")).all()
    engine.dispose()
    assert len({r.sender_id for r in rows}) == 1  # the lookup digest survives rotation
    first_turn, later = rows[:7], rows[7:]  # 3 session-start events + 4 of the turn
    assert len(later) == 4
    for row in first_turn:
        Fernet(old).decrypt(row.data.encode())
    for row in later:
        Fernet(new).decrypt(row.data.encode())
        try:
            Fernet(old).decrypt(row.data.encode())
            raise AssertionError("a new event was written with the old key")
        except InvalidToken:
            pass
    everything = await make_store(keyring=KeyRing((new, old))).retrieve(PHONE)
    assert [e.text for e in everything.events if isinstance(e, UserUttered)] == WORDS[:2]


async def test_two_instances_on_one_database_never_serve_a_stale_tracker(make_store):
    first, second = make_store(), make_store()
    await turn(first, PHONE, WORDS[0])
    await turn(second, PHONE, WORDS[1])          # second instance, its own cache
    await turn(first, PHONE, WORDS[2])           # first must see the second's turn
    for store in (first, second):
        tracker = await store.retrieve(PHONE)
        assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == WORDS
        assert state(tracker) == state(await make_store(cache_size=0).retrieve(PHONE))
    assert first.cache.hits >= 2 and second.cache.hits >= 1


async def test_a_new_session_started_by_another_instance_is_seen(make_store):
    first, second = make_store(), make_store()
    await turn(first, PHONE, WORDS[0])
    tracker = await second.retrieve(PHONE)
    for event in (ActionExecuted("action_session_start"), SessionStarted(),
                  ActionExecuted("action_listen")):
        tracker.update(event)
    await second.save(tracker)
    await turn(second, PHONE, WORDS[1])
    session = await first.retrieve(PHONE)
    assert [e.text for e in session.events if isinstance(e, UserUttered)] == [WORDS[1]]
    full = await first.retrieve_full_tracker(PHONE)
    assert [e.text for e in full.events if isinstance(e, UserUttered)] == WORDS[:2]


async def test_erased_rows_are_not_served_from_the_cache(make_store):
    store = make_store()
    await turn(store, PHONE, WORDS[0])
    assert await store.retrieve(PHONE) is not None
    engine = sa.create_engine(make_store.raw_url)
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM events WHERE sender_id = :k"),
                           {"k": store.digest(PHONE)})
    engine.dispose()
    assert await store.retrieve(PHONE) is None


async def test_cached_tracker_equals_a_full_reload_after_every_turn(make_store):
    store, reference = make_store(), make_store(cache_size=0)
    for i in range(12):
        await turn(store, PHONE, f"mensaje {i}", comuna="Maipú" if i % 5 == 0 else None)
        assert state(await store.retrieve(PHONE)) == state(await reference.retrieve(PHONE))
    assert store.cache.hits >= 11


async def test_each_committed_event_is_published_once(make_store):
    published = []

    class Broker:
        def publish(self, event):
            published.append(event)

    store = make_store()
    store.event_broker = Broker()
    await turn(store, PHONE, WORDS[0])
    await turn(store, PHONE, WORDS[1])
    users = [e["text"] for e in published if e["event"] == "user"]
    assert users == WORDS[:2]
    assert all(e["sender_id"] == PHONE for e in published)
    assert len(published) == len((await store.retrieve_full_tracker(PHONE)).events)


def test_every_cell_reader_sees_plain_text_when_there_is_some(tmp_path):
    """The raw check itself must be able to fail."""
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE t (x TEXT)"))
        connection.execute(sa.text("INSERT INTO t VALUES ('vivo en Puente Alto')"))
    engine.dispose()
    assert "vivo en Puente Alto" in every_cell(url)
    assert leaks(url, ["Puente Alto", PHONE]) == ["Puente Alto"]


def test_a_fresh_clone_without_var_gets_its_folder(tmp_path, domain, ring):
    """`rasa run` on a fresh clone: var/ does not exist yet; SQLite cannot create a file in a
    missing folder, and Rasa's server used to stop with «no such table: main.events»."""
    from store.tracker_store import EncryptedSQLTrackerStore

    path = tmp_path / "var" / "tracker.db"
    EncryptedSQLTrackerStore(domain, dialect="sqlite", db=str(path), keyring=ring)
    assert path.exists() and (path.parent.stat().st_mode & 0o777) == 0o700
