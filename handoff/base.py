"""What every handoff store shares: the engine, short transactions, the audit line, UTC now.

Every public method of a store opens and closes its own transaction and returns frozen views,
so callers (custom actions, the event broker, the console) never hold ORM objects. These calls
block: async callers run them in a thread pool (the console does, see ``console/offload.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from handoff.audit_chain import append
from handoff.models import AuditEntry, metadata
from handoff.schema import upgrade

DETAIL_MAX = 500


def utcnow() -> datetime:
    """Naive UTC now (all stored timestamps are naive UTC)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def short(value: str | None, limit: int) -> str | None:
    """One line of at most ``limit`` characters (None stays None)."""
    if value is None:
        return None
    return " ".join(str(value).split())[:limit]


def add_audit(
    s: Session,
    action: str,
    agent_id: int | None = None,
    ticket_id: int | None = None,
    detail: str | None = None,
) -> None:
    """One audit line in the caller's transaction, hash-chained to the previous one (this
    holds the log's append lock until the transaction ends). Never message text or phone
    numbers."""
    append(s, AuditEntry(at=utcnow(), agent_id=agent_id, action=action, ticket_id=ticket_id,
                         detail=short(detail, DETAIL_MAX)))


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        upgrade(engine, metadata)
        self._sessions = sessionmaker(bind=engine, future=True, expire_on_commit=False)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session
