from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from handoff.queue import HandoffQueue  # noqa: E402
from store.db import make_engine  # noqa: E402


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'helpline.db'}"


@pytest.fixture
def queue(db_url: str) -> HandoffQueue:
    engine = make_engine(db_url)
    yield HandoffQueue(engine)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request, tmp_path: Path):
    """A fresh database: a SQLite file, and a throw-away PostgreSQL database when one answers."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'helpline.db'}"
        return
    from stack.services import default_database_url, postgres_problem, temporary_database

    problem = postgres_problem()
    if problem:
        pytest.skip(f"{problem}: PostgreSQL tests skipped (start it at "
                    f"{default_database_url()})")
    with temporary_database(prefix="t_handoff") as url:
        yield url


@pytest.fixture
def data_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh HELPLINE_DATA_KEY for this test."""
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    monkeypatch.setenv("HELPLINE_DATA_KEY", key)
    return key
