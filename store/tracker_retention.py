"""Rasa's trackers in the retention purge, and where the tracker store is.

A conversation's tracker rows go once her newest row is older than the horizon and the queue
does not hold her (an open ticket, or one closed within the horizon). Rows are deleted, never
rewritten (the tracker store's contract: every instance's cache notices and reads again).

No conversation lock is taken: a conversation silent for the whole horizon is deleted in one
statement that deletes nothing if a newer row appeared meanwhile (only a turn already running
at that very moment could re-save its old session; erasure, which runs right after her turn,
does take her lock: ``store/erasure.py``).

Which database: inside a Rasa instance, the one its tracker store uses (``use_tracker_store``,
called by the channel when it starts); elsewhere (cron), the ``tracker_store`` of the
endpoints file ``ENDPOINTS`` (default ``endpoints.yml``; ``${VAR}``s as Rasa reads them).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from store.crypto import KeyRing, data_keyring
from store.retention import Horizon, register

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EVENTS_TABLE = "events"

_lock = threading.Lock()
_engine: sa.engine.Engine | None = None


def use_tracker_store(store: Any) -> None:
    """The running Rasa instance's tracker store: purge and erase through its engine."""
    global _engine
    engine = getattr(store, "engine", None)
    if engine is not None:
        with _lock:
            _engine = engine


def endpoints_url(path: str | Path | None = None) -> str | None:
    """The tracker store's database URL from an endpoints file (None: no SQL store there).

    Only the ``tracker_store`` section is read and only its ``${VAR}``s are expanded: a cron
    job purging trackers needs the database settings, not the action server's token."""
    import yaml
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.utils.endpoints import EndpointConfig

    path = Path(path or os.environ.get("ENDPOINTS") or PROJECT_ROOT / "endpoints.yml")
    section = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("tracker_store")
    if not isinstance(section, dict):
        return None
    config = EndpointConfig.from_dict(_expand(section))
    options = {k: v for k, v in config.kwargs.items()
               if k in ("dialect", "port", "db", "username", "password", "login_db", "query")}
    url = SQLTrackerStore.get_db_url(host=config.url, **options)
    return str(url)


def _expand(value: Any) -> Any:
    """Rasa's ``${VAR}`` substitution, on one section: a missing variable is an error that
    names it."""
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v) for v in value]
    if not isinstance(value, str):
        return value

    def variable(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ValueError(f"the endpoints file's tracker_store needs ${{{name}}}")
        return os.environ[name]

    return re.sub(r"\$\{([^}]+)\}", variable, value)


def _missing_sqlite_file(url: str) -> bool:
    if not url.startswith("sqlite"):
        return False
    path = url.split("///", 1)[-1]
    return not path or path == ":memory:" or not Path(path).is_file()


def tracker_engine() -> sa.engine.Engine | None:
    """The engine of the tracker store's database (see the module docstring)."""
    global _engine
    with _lock:
        if _engine is None:
            url = endpoints_url()
            if url is None or _missing_sqlite_file(url):
                return None  # no tracker store yet: nothing to purge (and nothing created)
            _engine = sa.create_engine(url, future=True, hide_parameters=True)
        return _engine


def events_table(engine: sa.engine.Engine) -> sa.Table | None:
    if not sa.inspect(engine).has_table(EVENTS_TABLE):
        return None
    return sa.Table(EVENTS_TABLE, sa.MetaData(), autoload_with=engine)


def delete_conversation(engine: sa.engine.Engine, key: str) -> int:
    """Delete every tracker row of the conversation whose keyed digest is ``key``."""
    table = events_table(engine)
    if table is None:
        return 0
    with engine.begin() as conn:
        return int(conn.execute(sa.delete(table).where(table.c.sender_id == key)).rowcount)


def purge_idle(engine: sa.engine.Engine, before: float, held: set[str],
               ring: KeyRing | None = None) -> int:
    """Delete the rows of conversations silent since ``before`` (epoch seconds), except the
    ``held`` conversation ids. Returns the rows deleted."""
    table = events_table(engine)
    if table is None:
        return 0
    ring = ring or data_keyring()
    kept = {ring.digest(conversation_id) for conversation_id in held}
    with engine.connect() as conn:
        idle = [key for (key,) in conn.execute(
            sa.select(table.c.sender_id).group_by(table.c.sender_id)
            .having(sa.func.max(table.c.timestamp) < before)) if key not in kept]
    deleted = 0
    for key in idle:
        newer = sa.select(table.c.id).where(table.c.sender_id == key,
                                            table.c.timestamp >= before).exists()
        with engine.begin() as conn:  # nothing goes if she wrote meanwhile
            deleted += int(conn.execute(sa.delete(table).where(
                table.c.sender_id == key, ~newer)).rowcount)
    return deleted


@register("rasa_trackers")
def purge(horizon: Horizon) -> int:
    from handoff.queue import HandoffQueue

    engine = tracker_engine()
    if engine is None:
        return 0
    held = HandoffQueue.from_env().held_conversations(horizon.cutoff)
    return purge_idle(engine, horizon.cutoff_epoch, held)
