"""One place that turns ``DATABASE_URL`` into a SQLAlchemy engine.

Default: a SQLite file ``var/helpline.db`` under the project folder. Production:
any SQLAlchemy URL, e.g. ``postgresql://user:pass@host/helpline``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "var" / "helpline.db"


def database_url() -> str:
    """The configured database URL, or the embedded SQLite default."""
    return os.environ.get("DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE_PATH}"


def make_engine(url: str | None = None, **options: object) -> Engine:
    """A new engine; SQLite gets WAL mode and a busy timeout so several processes can share it.
    ``options`` go to ``create_engine`` (e.g. a ``poolclass``). Statement parameters never
    appear in SQLAlchemy's errors or logs (``hide_parameters``): they may be her words."""
    url = url or database_url()
    options.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, future=True, connect_args={"timeout": 30, "check_same_thread": False},
            **options,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, future=True, pool_pre_ping=True, **options)


@lru_cache(maxsize=8)
def shared_engine(url: str | None = None) -> Engine:
    """A process-wide engine per URL (engines hold connection pools; make one each)."""
    return make_engine(url or database_url())
