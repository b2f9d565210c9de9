"""The escalation broker's own table: decisions to escalate, and acknowledgements sent.

A decision is written when the broker sees an emergency message in a paused conversation,
before anything is sent; a worker processes it, and a sweep (Rasa startup, then every
minute) picks up what a crash or a failed send left unprocessed. Rows carry the ticket id
only: no phone number, no text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine

from handoff.queue import utcnow
from store.db import create_schema

metadata = MetaData()


class Kind(str, Enum):
    EMERGENCY = "emergency"  # escalate the ticket and send the emergency lines
    ACKNOWLEDGEMENT = "ack"  # «recibí tu mensaje» while she waits


class Outcome(str, Enum):
    LINES_SENT = "lines_sent"
    ESCALATED = "escalated"  # lines were sent to her moments ago: not again
    TICKET_CLOSED = "ticket_closed"
    FAILED = "failed"
    SENT = "sent"


escalations = Table(
    "handoff_escalations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("ticket_id", Integer, nullable=False),
    Column("intent", String(64)),
    Column("created_at", DateTime, nullable=False),
    Column("claimed_at", DateTime),
    Column("processed_at", DateTime),
    Column("attempts", Integer, nullable=False, default=0),
    Column("outcome", String(16)),
    Index("ix_handoff_escalations_pending", "processed_at", "created_at"),
    Index("ix_handoff_escalations_ticket", "ticket_id", "kind", "processed_at"),
)


@dataclass(frozen=True)
class Decision:
    id: int
    kind: str
    ticket_id: int
    intent: str | None
    attempts: int


class EscalationLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_schema(lambda: metadata.create_all(engine))

    def record(self, kind: Kind, ticket_id: int, intent: str | None = None,
               outcome: Outcome | None = None) -> Decision:
        now = utcnow()
        values = {"kind": kind.value, "ticket_id": ticket_id, "intent": (intent or "")[:64],
                  "created_at": now, "attempts": 0}
        if outcome is not None:
            values.update(processed_at=now, outcome=outcome.value)
        with self.engine.begin() as conn:
            new_id = conn.execute(insert(escalations).values(**values)).inserted_primary_key[0]
        return Decision(int(new_id), kind.value, ticket_id, intent, 0)

    def claim(self, decision_id: int, stale_after: float = 60.0) -> Decision | None:
        """Take an unprocessed decision; of concurrent workers exactly one wins."""
        now = utcnow()
        stale = now - timedelta(seconds=stale_after)
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(escalations)
                .where(escalations.c.id == decision_id, escalations.c.processed_at.is_(None),
                       or_(escalations.c.claimed_at.is_(None), escalations.c.claimed_at < stale))
                .values(claimed_at=now)
            ).rowcount
            if changed != 1:
                return None
            row = conn.execute(select(escalations).where(escalations.c.id == decision_id)).one()
        return Decision(row.id, row.kind, row.ticket_id, row.intent or None, row.attempts)

    def finish(self, decision_id: int, outcome: Outcome) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(escalations).where(escalations.c.id == decision_id)
                         .values(processed_at=utcnow(), outcome=outcome.value))

    def release(self, decision_id: int) -> int:
        """A failed attempt: unclaim for the next sweep; returns the attempts so far."""
        with self.engine.begin() as conn:
            conn.execute(update(escalations).where(escalations.c.id == decision_id)
                         .values(claimed_at=None, attempts=escalations.c.attempts + 1))
            return int(conn.execute(select(escalations.c.attempts)
                                    .where(escalations.c.id == decision_id)).scalar_one())

    def unprocessed(self, older_than: float = 0.0) -> list[int]:
        """Ids of decisions nobody finished (created at least ``older_than`` seconds ago)."""
        before = utcnow() - timedelta(seconds=older_than)
        with self.engine.begin() as conn:
            return [row.id for row in conn.execute(
                select(escalations.c.id)
                .where(escalations.c.processed_at.is_(None), escalations.c.created_at <= before)
                .order_by(escalations.c.created_at))]

    def sent_within(self, ticket_id: int, kind: Kind, outcome: Outcome, seconds: float) -> bool:
        since: datetime = utcnow() - timedelta(seconds=seconds)
        with self.engine.begin() as conn:
            return conn.execute(
                select(escalations.c.id).where(and_(
                    escalations.c.ticket_id == ticket_id, escalations.c.kind == kind.value,
                    escalations.c.outcome == outcome.value, escalations.c.processed_at >= since))
                .limit(1)).first() is not None

    def purge(self, before: datetime) -> int:
        """Forget processed decisions created before ``before`` (retention)."""
        with self.engine.begin() as conn:
            return int(conn.execute(delete(escalations).where(
                escalations.c.processed_at.isnot(None),
                escalations.c.created_at < before)).rowcount)
