"""The handoff queue: tickets, claims, escalation, notes and audit.

Every method opens and closes its own session and returns frozen views, so
callers (custom actions, the event broker, the console) never hold ORM objects.
State changes are conditional UPDATEs checked by rowcount: two specialists can
never hold the same ticket.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from handoff.models import (
    ASSIGNED,
    CLOSED,
    SPECIALIST,
    SUPERVISOR,
    WAITING,
    Agent,
    AuditEntry,
    Note,
    Ticket,
    metadata,
)
from handoff.priority import EMERGENCY

OPEN_STATUSES = (WAITING, ASSIGNED)
REASON_MAX = 200
SAFE_CONTACT_MAX = 200
DETAIL_MAX = 500


def utcnow() -> datetime:
    """Naive UTC now (all stored timestamps are naive UTC)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _short(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    value = " ".join(str(value).split())
    return value[:limit]


@dataclass(frozen=True)
class TicketView:
    id: int
    conversation_id: str
    status: str
    level: str
    priority: int
    reason: str
    safe_contact: str | None
    screening: dict[str, Any] | None
    agent_id: int | None
    agent_username: str | None
    created_at: datetime
    assigned_at: datetime | None
    closed_at: datetime | None
    escalated_at: datetime | None

    @property
    def screening_result(self) -> str | None:
        if isinstance(self.screening, dict):
            result = self.screening.get("result")
            return str(result) if result is not None else None
        return None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class AgentView:
    id: int
    username: str
    role: str
    active: bool
    last_seen_at: datetime | None
    password_hash: str

    @property
    def is_supervisor(self) -> bool:
        return self.role == SUPERVISOR


@dataclass(frozen=True)
class NoteView:
    id: int
    ticket_id: int
    agent_id: int | None
    agent_username: str | None
    text: str
    created_at: datetime


@dataclass(frozen=True)
class AuditView:
    id: int
    at: datetime
    agent_id: int | None
    action: str
    ticket_id: int | None
    detail: str | None


def _ticket_view(ticket: Ticket, username: str | None) -> TicketView:
    return TicketView(
        id=ticket.id,
        conversation_id=ticket.conversation_id,
        status=ticket.status,
        level=ticket.level,
        priority=ticket.priority,
        reason=ticket.reason or "",
        safe_contact=ticket.safe_contact,
        screening=ticket.screening,
        agent_id=ticket.agent_id,
        agent_username=username,
        created_at=ticket.created_at,
        assigned_at=ticket.assigned_at,
        closed_at=ticket.closed_at,
        escalated_at=ticket.escalated_at,
    )


def _agent_view(agent: Agent) -> AgentView:
    return AgentView(
        id=agent.id,
        username=agent.username,
        role=agent.role,
        active=bool(agent.active),
        last_seen_at=agent.last_seen_at,
        password_hash=agent.password_hash,
    )


_TICKETS = select(Ticket, Agent.username).outerjoin(Agent, Ticket.agent_id == Agent.id)
_QUEUE_ORDER = (Ticket.priority.asc(), Ticket.created_at.asc(), Ticket.id.asc())


_shared: dict[str, HandoffQueue] = {}
_shared_lock = threading.Lock()


def _open_ticket_query(query: Any, conversation_id: str) -> Any:
    """The newest waiting or assigned ticket of a conversation (at most one exists)."""
    return (
        query.where(Ticket.conversation_id == conversation_id)
        .where(Ticket.status.in_(OPEN_STATUSES))
        .order_by(Ticket.id.desc())
        .limit(1)
    )


class HandoffQueue:
    """All reads and writes of the handoff tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)
        if engine.dialect.name in ("sqlite", "postgresql"):
            # At most one open ticket per conversation (partial index; other
            # dialects rely on open_ticket's check-then-insert).
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "CREATE UNIQUE INDEX IF NOT EXISTS uq_handoff_open_ticket "
                        "ON handoff_tickets (conversation_id) WHERE status != 'closed'"
                    )
                )
        self._sessions = sessionmaker(bind=engine, future=True, expire_on_commit=False)

    @classmethod
    def from_env(cls) -> HandoffQueue:
        """The process-wide queue on the shared engine from DATABASE_URL (cheap to call)."""
        from store.db import database_url, shared_engine

        url = database_url()
        with _shared_lock:
            if url not in _shared:
                _shared[url] = cls(shared_engine(url))
            return _shared[url]

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    # ----------------------------------------------------------------- tickets
    def open_ticket(
        self,
        conversation_id: str,
        level: str,
        priority: int,
        reason: str,
        safe_contact: str | None = None,
        screening: dict[str, Any] | None = None,
    ) -> TicketView:
        """Open a ticket, or update the conversation's open one (urgency only rises)."""
        for attempt in range(3):
            try:
                return self._open_ticket_once(
                    conversation_id, level, priority, reason, safe_contact, screening
                )
            except IntegrityError:
                # A concurrent call inserted the open ticket first: update it instead.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _open_ticket_once(
        self,
        conversation_id: str,
        level: str,
        priority: int,
        reason: str,
        safe_contact: str | None,
        screening: dict[str, Any] | None,
    ) -> TicketView:
        now = utcnow()
        with self._session() as s:
            ticket = s.execute(_open_ticket_query(select(Ticket), conversation_id)).scalar_one_or_none()
            if ticket is None:
                ticket = Ticket(
                    conversation_id=conversation_id,
                    status=WAITING,
                    level=level,
                    priority=int(priority),
                    reason=_short(reason, REASON_MAX) or "",
                    safe_contact=_short(safe_contact, SAFE_CONTACT_MAX),
                    screening=screening,
                    created_at=now,
                )
                s.add(ticket)
                s.flush()
                s.add(AuditEntry(at=now, action="ticket_opened", ticket_id=ticket.id,
                                 detail=f"level={level} priority={priority}"))
            else:
                changes = []
                if int(priority) < ticket.priority:
                    changes.append(f"priority {ticket.priority}->{priority}")
                    ticket.priority = int(priority)
                    ticket.level = level
                    ticket.reason = _short(reason, REASON_MAX) or ticket.reason
                if safe_contact:
                    ticket.safe_contact = _short(safe_contact, SAFE_CONTACT_MAX)
                    changes.append("safe_contact")
                if screening:
                    ticket.screening = screening
                    changes.append("screening")
                s.add(AuditEntry(at=now, action="ticket_updated", ticket_id=ticket.id,
                                 detail=", ".join(changes) or "no change"))
            username = s.get(Agent, ticket.agent_id).username if ticket.agent_id else None
            return _ticket_view(ticket, username)

    def get(self, ticket_id: int) -> TicketView | None:
        with self._session() as s:
            row = s.execute(_TICKETS.where(Ticket.id == ticket_id)).first()
            return _ticket_view(*row) if row else None

    def open_ticket_for(self, conversation_id: str) -> TicketView | None:
        """The conversation's waiting or assigned ticket, if any (indexed lookup)."""
        with self._session() as s:
            row = s.execute(_open_ticket_query(_TICKETS, conversation_id)).first()
            return _ticket_view(*row) if row else None

    def list_waiting(self, limit: int | None = None) -> list[TicketView]:
        """Waiting tickets in queue order: priority, then age."""
        query = _TICKETS.where(Ticket.status == WAITING).order_by(*_QUEUE_ORDER)
        if limit:
            query = query.limit(limit)
        with self._session() as s:
            return [_ticket_view(*row) for row in s.execute(query)]

    def list_for_agent(self, agent_id: int) -> list[TicketView]:
        """Tickets the agent holds, most urgent first."""
        query = (
            _TICKETS.where(Ticket.status == ASSIGNED)
            .where(Ticket.agent_id == agent_id)
            .order_by(*_QUEUE_ORDER)
        )
        with self._session() as s:
            return [_ticket_view(*row) for row in s.execute(query)]

    def list_assigned(self) -> list[TicketView]:
        """All assigned tickets (supervisor view)."""
        query = _TICKETS.where(Ticket.status == ASSIGNED).order_by(*_QUEUE_ORDER)
        with self._session() as s:
            return [_ticket_view(*row) for row in s.execute(query)]

    def position(self, ticket_id: int) -> int | None:
        """1-based place among waiting tickets, or None if the ticket is not waiting."""
        with self._session() as s:
            ticket = s.get(Ticket, ticket_id)
            if ticket is None or ticket.status != WAITING:
                return None
            ahead = s.execute(
                select(func.count(Ticket.id)).where(
                    Ticket.status == WAITING,
                    or_(
                        Ticket.priority < ticket.priority,
                        and_(Ticket.priority == ticket.priority,
                             Ticket.created_at < ticket.created_at),
                        and_(Ticket.priority == ticket.priority,
                             Ticket.created_at == ticket.created_at,
                             Ticket.id < ticket.id),
                    ),
                )
            ).scalar_one()
            return int(ahead) + 1

    def online_agents(self, window_seconds: int = 120) -> int:
        """Active agents whose console was open within the window."""
        since = utcnow() - timedelta(seconds=window_seconds)
        with self._session() as s:
            return int(
                s.execute(
                    select(func.count(Agent.id)).where(
                        Agent.active.is_(True), Agent.last_seen_at >= since
                    )
                ).scalar_one()
            )

    def estimated_wait_minutes(
        self, ticket_id: int, history_minutes: int = 120, min_claims: int = 3
    ) -> int | None:
        """Minutes until the ticket is likely claimed, from the recent claim rate.

        None when there is no honest basis: the ticket is not waiting, nobody is
        online, or fewer than ``min_claims`` claims happened in the last
        ``history_minutes``.
        """
        place = self.position(ticket_id)
        if place is None or self.online_agents() == 0:
            return None
        since = utcnow() - timedelta(minutes=history_minutes)
        with self._session() as s:
            claims = int(
                s.execute(
                    select(func.count(Ticket.id)).where(Ticket.assigned_at >= since)
                ).scalar_one()
            )
        if claims < min_claims:
            return None
        per_minute = claims / history_minutes
        return max(1, math.ceil(place / per_minute))

    def escalate(self, conversation_id: str, reason: str) -> TicketView | None:
        """Move the conversation's open ticket to EMERGENCY priority at once."""
        now = utcnow()
        with self._session() as s:
            ticket = s.execute(_open_ticket_query(select(Ticket), conversation_id)).scalar_one_or_none()
            if ticket is None:
                return None
            previous = ticket.priority
            ticket.priority = EMERGENCY
            ticket.level = "emergency"
            ticket.escalated_at = now
            ticket.reason = _short(reason, REASON_MAX) or ticket.reason
            s.add(AuditEntry(at=now, action="ticket_escalated", ticket_id=ticket.id,
                             detail=_short(f"priority {previous}->{EMERGENCY}: {reason}",
                                           DETAIL_MAX)))
            username = s.get(Agent, ticket.agent_id).username if ticket.agent_id else None
            return _ticket_view(ticket, username)

    def _conditional_update(
        self,
        ticket_id: int,
        conditions: list[Any],
        values: dict[str, Any],
        action: str,
        agent_id: int | None,
        detail: str | None = None,
    ) -> TicketView | None:
        """UPDATE ... WHERE conditions; audit and return the ticket only if a row changed."""
        with self._session() as s:
            result = s.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, *conditions)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                return None
            s.add(AuditEntry(at=utcnow(), agent_id=agent_id, action=action,
                             ticket_id=ticket_id, detail=_short(detail, DETAIL_MAX)))
            row = s.execute(_TICKETS.where(Ticket.id == ticket_id)).first()
            return _ticket_view(*row)

    def claim(self, ticket_id: int, agent_id: int) -> TicketView | None:
        """Take a waiting ticket. Atomic: of concurrent claims exactly one wins."""
        return self._conditional_update(
            ticket_id,
            [Ticket.status == WAITING],
            {"status": ASSIGNED, "agent_id": agent_id, "assigned_at": utcnow()},
            "ticket_claimed",
            agent_id,
        )

    def release(self, ticket_id: int, agent_id: int) -> TicketView | None:
        """Give a held ticket back to the queue (it keeps its original place)."""
        return self._conditional_update(
            ticket_id,
            [Ticket.status == ASSIGNED, Ticket.agent_id == agent_id],
            {"status": WAITING, "agent_id": None, "assigned_at": None},
            "ticket_released",
            agent_id,
        )

    def transfer(self, ticket_id: int, from_agent_id: int, to_agent_id: int) -> TicketView | None:
        """Hand a held ticket to another active agent."""
        target = self.get_agent(to_agent_id)
        if target is None or not target.active or to_agent_id == from_agent_id:
            return None
        return self._conditional_update(
            ticket_id,
            [Ticket.status == ASSIGNED, Ticket.agent_id == from_agent_id],
            {"agent_id": to_agent_id, "assigned_at": utcnow()},
            "ticket_transferred",
            from_agent_id,
            f"to_agent={to_agent_id}",
        )

    def reassign(self, ticket_id: int, supervisor_id: int, to_agent_id: int) -> TicketView | None:
        """Supervisor: give any open ticket to an active agent."""
        supervisor = self.get_agent(supervisor_id)
        target = self.get_agent(to_agent_id)
        if supervisor is None or not supervisor.is_supervisor or not supervisor.active:
            return None
        if target is None or not target.active:
            return None
        return self._conditional_update(
            ticket_id,
            [Ticket.status.in_(OPEN_STATUSES)],
            {"status": ASSIGNED, "agent_id": to_agent_id, "assigned_at": utcnow()},
            "ticket_reassigned",
            supervisor_id,
            f"to_agent={to_agent_id}",
        )

    def close(self, ticket_id: int, agent_id: int) -> TicketView | None:
        """Close a ticket the agent holds (a supervisor may close any open ticket)."""
        agent = self.get_agent(agent_id)
        if agent is None:
            return None
        conditions: list[Any] = [Ticket.status.in_(OPEN_STATUSES)]
        if not agent.is_supervisor:
            conditions = [Ticket.status == ASSIGNED, Ticket.agent_id == agent_id]
        return self._conditional_update(
            ticket_id, conditions, {"status": CLOSED, "closed_at": utcnow()},
            "ticket_closed", agent_id,
        )

    # ------------------------------------------------------------------ notes
    def add_note(self, ticket_id: int, agent_id: int, text_: str) -> NoteView:
        """A private note by a specialist (the audit records that it exists, not its text)."""
        now = utcnow()
        with self._session() as s:
            note = Note(ticket_id=ticket_id, agent_id=agent_id, text=text_.strip(), created_at=now)
            s.add(note)
            s.flush()
            s.add(AuditEntry(at=now, agent_id=agent_id, action="note_added",
                             ticket_id=ticket_id, detail=f"note={note.id}"))
            username = s.get(Agent, agent_id).username if agent_id else None
            return NoteView(note.id, ticket_id, agent_id, username, note.text, now)

    def notes(self, ticket_id: int) -> list[NoteView]:
        """Notes on this ticket and on earlier tickets of the same conversation."""
        with self._session() as s:
            ticket = s.get(Ticket, ticket_id)
            if ticket is None:
                return []
            ids = select(Ticket.id).where(Ticket.conversation_id == ticket.conversation_id)
            rows = s.execute(
                select(Note, Agent.username)
                .outerjoin(Agent, Note.agent_id == Agent.id)
                .where(Note.ticket_id.in_(ids))
                .order_by(Note.created_at.asc(), Note.id.asc())
            )
            return [
                NoteView(n.id, n.ticket_id, n.agent_id, u, n.text, n.created_at) for n, u in rows
            ]

    # ------------------------------------------------------------------ audit
    def audit(
        self,
        action: str,
        agent_id: int | None = None,
        ticket_id: int | None = None,
        detail: str | None = None,
    ) -> None:
        """Record an action. Never pass message text or phone numbers in ``detail``."""
        with self._session() as s:
            s.add(AuditEntry(at=utcnow(), agent_id=agent_id, action=action,
                             ticket_id=ticket_id, detail=_short(detail, DETAIL_MAX)))

    def audit_entries(self, ticket_id: int | None = None, limit: int = 200) -> list[AuditView]:
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if ticket_id is not None:
            query = query.where(AuditEntry.ticket_id == ticket_id)
        with self._session() as s:
            return [
                AuditView(a.id, a.at, a.agent_id, a.action, a.ticket_id, a.detail)
                for a in s.execute(query).scalars()
            ]

    # ----------------------------------------------------------------- agents
    def create_agent(self, username: str, password_hash: str, role: str = SPECIALIST) -> AgentView:
        if role not in (SPECIALIST, SUPERVISOR):
            raise ValueError(f"unknown role: {role}")
        with self._session() as s:
            agent = Agent(username=username, password_hash=password_hash, role=role, active=True)
            s.add(agent)
            s.flush()
            s.add(AuditEntry(at=utcnow(), action="agent_created", agent_id=agent.id,
                             detail=f"role={role}"))
            return _agent_view(agent)

    def get_agent(self, agent_id: int) -> AgentView | None:
        with self._session() as s:
            agent = s.get(Agent, agent_id)
            return _agent_view(agent) if agent else None

    def agent_by_username(self, username: str) -> AgentView | None:
        with self._session() as s:
            agent = s.execute(
                select(Agent).where(Agent.username == username)
            ).scalar_one_or_none()
            return _agent_view(agent) if agent else None

    def list_agents(self, active_only: bool = True) -> list[AgentView]:
        query = select(Agent).order_by(Agent.username)
        if active_only:
            query = query.where(Agent.active.is_(True))
        with self._session() as s:
            return [_agent_view(a) for a in s.execute(query).scalars()]

    def set_password(self, agent_id: int, password_hash: str) -> None:
        with self._session() as s:
            s.execute(update(Agent).where(Agent.id == agent_id)
                      .values(password_hash=password_hash))
            s.add(AuditEntry(at=utcnow(), action="password_set", agent_id=agent_id))

    def set_active(self, agent_id: int, active: bool) -> None:
        with self._session() as s:
            s.execute(update(Agent).where(Agent.id == agent_id).values(active=active))
            s.add(AuditEntry(at=utcnow(), action="agent_activated" if active
                             else "agent_deactivated", agent_id=agent_id))

    def touch_agent(self, agent_id: int) -> None:
        """Mark the agent as seen now (the console calls this while it is open)."""
        with self._session() as s:
            s.execute(update(Agent).where(Agent.id == agent_id).values(last_seen_at=utcnow()))
