"""Fixtures of the storage tests: a small Rasa domain, key rings, and tracker stores on
SQLite (always) and PostgreSQL (a throw-away database, when PostgreSQL answers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from cryptography.fernet import Fernet
from rasa.shared.core.domain import Domain

from stack.services import default_database_url, postgres_problem, temporary_database
from store.crypto import KeyRing
from store.tracker_store import EncryptedSQLTrackerStore

DOMAIN_YAML = """
version: "3.1"
intents: [saludar, afirmar, negar, informar_ubicacion, violencia_sexual, info_denuncia]
entities: [comuna]
slots:
  comuna:
    type: text
    influence_conversation: true
    mappings: [{type: from_entity, entity: comuna}]
  riesgo_1:
    type: bool
    influence_conversation: true
    mappings: [{type: from_intent, intent: afirmar, value: true, conditions: [{active_loop: formulario_riesgo, requested_slot: riesgo_1}]}]
  riesgo_2:
    type: bool
    influence_conversation: true
    mappings: [{type: from_intent, intent: afirmar, value: true, conditions: [{active_loop: formulario_riesgo, requested_slot: riesgo_2}]}]
forms:
  formulario_riesgo:
    required_slots: [riesgo_1, riesgo_2]
responses:
  utter_saludo: [{text: "Hola"}]
  utter_info_denuncia: [{text: "Puedes denunciar en Carabineros (133)"}]
  utter_ask_riesgo_1: [{text: "¿Pregunta 1?"}]
  utter_ask_riesgo_2: [{text: "¿Pregunta 2?"}]
actions: [action_handoff]
"""


@pytest.fixture(scope="session")
def domain() -> Domain:
    return Domain.from_yaml(DOMAIN_YAML)


@pytest.fixture()
def ring() -> KeyRing:
    return KeyRing((Fernet.generate_key(),))


StoreFactory = Callable[..., EncryptedSQLTrackerStore]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    problem = postgres_problem()
    if problem:
        pytest.skip(f"{problem}: PostgreSQL tests skipped (start PostgreSQL at "
                    f"{default_database_url()} to run them)")
    with temporary_database(prefix="t_store") as url:
        yield url


def _sqlite_factory(tmp_path, domain, ring) -> StoreFactory:
    path = tmp_path / "tracker.db"

    def make(keyring: KeyRing | None = None, **kwargs) -> EncryptedSQLTrackerStore:
        return EncryptedSQLTrackerStore(domain, dialect="sqlite", db=str(path),
                                        keyring=keyring or ring, **kwargs)

    make.raw_url = f"sqlite:///{path}"  # type: ignore[attr-defined]
    return make


@pytest.fixture(params=["sqlite", "postgresql"])
def make_store(request, tmp_path, domain, ring) -> Iterator[StoreFactory]:
    """Build stores on one database (call it twice for two Rasa instances)."""
    if request.param == "sqlite":
        yield _sqlite_factory(tmp_path, domain, ring)
        return
    import sqlalchemy as sa

    base = request.getfixturevalue("postgres_url")
    engine = sa.create_engine(base, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS events"))
    engine.dispose()

    def make(keyring: KeyRing | None = None, **kwargs) -> EncryptedSQLTrackerStore:
        return EncryptedSQLTrackerStore(domain, host=base, keyring=keyring or ring, **kwargs)

    make.raw_url = base  # type: ignore[attr-defined]
    yield make


@pytest.fixture
def private_stores(tmp_path, monkeypatch, domain) -> Iterator[dict]:
    """One SQLite database for the queue and the channel (``DATABASE_URL``), a tracker store
    beside it, and a fresh ``HELPLINE_DATA_KEY``: what retention and erasure work on."""
    from channels.whatsapp.tables import dispose
    from store.crypto import data_keyring

    url = f"sqlite:///{tmp_path / 'helpline.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HELPLINE_DATA_KEY", Fernet.generate_key().decode())
    trackers = EncryptedSQLTrackerStore(domain, dialect="sqlite",
                                        db=str(tmp_path / "tracker.db"), keyring=data_keyring())
    yield {"url": url, "trackers": trackers, "tracker_db": tmp_path / "tracker.db",
           "db": tmp_path / "helpline.db"}
    dispose(url)
