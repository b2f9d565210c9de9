"""The handoff queue: tickets, claims, escalation, notes, audit, contact preferences.

Every method opens and closes its own transaction and returns frozen views (see
``handoff/base.py``). State changes are conditional UPDATEs checked by rowcount: two
specialists can never hold the same ticket. Every ticket change also updates the ticket's
anonymous statistics row (``handoff/stats.py``) in the same transaction.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from handoff import stats
from handoff.agents import AgentDirectory, AgentView
from handoff.base import add_audit, short, utcnow
from handoff.models import Agent, AuditEntry, ContactPreference, Note, Ticket
from handoff.priority import EMERGENCY
from handoff.sealing import FORGOTTEN, conversation_key
from handoff.states import OPEN_STATUSES, Outcome, TicketStatus

__all__ = ["AgentView", "HandoffQueue", "TicketView", "NoteView", "AuditView", "AgentLoad",
           "utcnow", "OPEN_STATUSES"]

REASON_MAX = 200
SAFE_CONTACT_MAX = 200
REGION_MAX = 64
TAGS_MAX = 8
_OPEN = [s.value for s in OPEN_STATUSES]


@dataclass(frozen=True)
class TicketView:
    id: int
    conversation_id: str
    status: TicketStatus
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
    region: str | None = None
    first_reply_at: datetime | None = None
    outcome: Outcome | None = None
    tags: tuple[str, ...] = ()

    @property
    def screening_result(self) -> str | None:
        if isinstance(self.screening, dict):
            result = self.screening.get("result")
            return str(result) if result is not None else None
        return None

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    def held_by(self, agent_id: int) -> bool:
        return self.status is TicketStatus.ASSIGNED and self.agent_id == agent_id


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


@dataclass(frozen=True)
class AgentLoad:
    """What a specialist holds now."""

    open: int = 0
    emergencies: int = 0


def _ticket_view(ticket: Ticket, username: str | None) -> TicketView:
    return TicketView(
        id=ticket.id,
        conversation_id=ticket.conversation_id,
        status=TicketStatus(ticket.status),
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
        region=ticket.region,
        first_reply_at=ticket.first_reply_at,
        outcome=Outcome.parse(ticket.outcome),
        tags=tuple(ticket.tags or ()),
    )


_TICKETS = select(Ticket, Agent.username).outerjoin(Agent, Ticket.agent_id == Agent.id)
_QUEUE_ORDER = (Ticket.priority.asc(), Ticket.created_at.asc(), Ticket.id.asc())

_shared: dict[str, HandoffQueue] = {}
_shared_lock = threading.Lock()


def _open_ticket_query(query: Any, conversation_id: str) -> Any:
    """The newest waiting or assigned ticket of a conversation (at most one exists)."""
    return (
        query.where(Ticket.conversation_key == conversation_key(conversation_id))
        .where(Ticket.status.in_(_OPEN))
        .order_by(Ticket.id.desc())
        .limit(1)
    )


class HandoffQueue(AgentDirectory):
    """All reads and writes of the handoff tables (accounts: ``handoff/agents.py``)."""

    def __init__(self, engine: Engine, digest: Any = None) -> None:
        super().__init__(engine)
        self._digest = digest

    @classmethod
    def from_env(cls) -> HandoffQueue:
        """The process-wide queue on the shared engine from DATABASE_URL (cheap to call)."""
        from store.db import database_url, shared_engine

        url = database_url()
        with _shared_lock:
            if url not in _shared:
                _shared[url] = cls(shared_engine(url))
            return _shared[url]

    # ----------------------------------------------------------------- tickets
    def open_ticket(
        self,
        conversation_id: str,
        level: str,
        priority: int,
        reason: str,
        safe_contact: str | None = None,
        screening: dict[str, Any] | None = None,
        region: str | None = None,
    ) -> TicketView:
        """Open a ticket, or update the conversation's open one (urgency only rises).

        ``region``: only from a location she gave (her comuna's region, or a region she named).
        """
        for attempt in range(3):
            try:
                return self._open_ticket_once(conversation_id, level, priority, reason,
                                              safe_contact, screening, region)
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
        region: str | None,
    ) -> TicketView:
        now = utcnow()
        with self._session() as s:
            ticket = s.execute(_open_ticket_query(select(Ticket), conversation_id)
                               ).scalar_one_or_none()
            if ticket is None:
                ticket = Ticket(
                    conversation_id=conversation_id,
                    conversation_key=conversation_key(conversation_id),
                    status=TicketStatus.WAITING.value,
                    level=level,
                    priority=int(priority),
                    reason=short(reason, REASON_MAX) or "",
                    safe_contact=short(safe_contact, SAFE_CONTACT_MAX),
                    screening=screening,
                    region=short(region, REGION_MAX),
                    created_at=now,
                )
                s.add(ticket)
                s.flush()
                stats.open_row(s, ticket)
                add_audit(s, "ticket_opened", ticket_id=ticket.id,
                          detail=f"level={level} priority={priority}")
            else:
                changes = self._update_open(ticket, level, priority, reason, safe_contact,
                                            screening, region)
                stats.level_row(s, ticket)
                add_audit(s, "ticket_updated", ticket_id=ticket.id,
                          detail=", ".join(changes) or "no change")
            username = s.get(Agent, ticket.agent_id).username if ticket.agent_id else None
            return _ticket_view(ticket, username)

    @staticmethod
    def _update_open(ticket: Ticket, level: str, priority: int, reason: str,
                     safe_contact: str | None, screening: dict[str, Any] | None,
                     region: str | None) -> list[str]:
        changes = []
        if int(priority) < ticket.priority:
            changes.append(f"priority {ticket.priority}->{priority}")
            ticket.priority = int(priority)
            ticket.level = level
            ticket.reason = short(reason, REASON_MAX) or ticket.reason
        if safe_contact:
            ticket.safe_contact = short(safe_contact, SAFE_CONTACT_MAX)
            changes.append("safe_contact")
        if screening:
            ticket.screening = screening
            changes.append("screening")
        if region and region != ticket.region:
            ticket.region = short(region, REGION_MAX)
            changes.append("region")
        return changes

    def get(self, ticket_id: int) -> TicketView | None:
        with self._session() as s:
            row = s.execute(_TICKETS.where(Ticket.id == ticket_id)).first()
            return _ticket_view(*row) if row else None

    def open_ticket_for(self, conversation_id: str) -> TicketView | None:
        """The conversation's waiting or assigned ticket, if any (indexed lookup)."""
        with self._session() as s:
            row = s.execute(_open_ticket_query(_TICKETS, conversation_id)).first()
            return _ticket_view(*row) if row else None

    def _list(self, query: Any) -> list[TicketView]:
        with self._session() as s:
            return [_ticket_view(*row) for row in s.execute(query)]

    def list_waiting(self, limit: int | None = None) -> list[TicketView]:
        """Waiting tickets in queue order: priority, then age."""
        query = _TICKETS.where(Ticket.status == TicketStatus.WAITING.value).order_by(*_QUEUE_ORDER)
        return self._list(query.limit(limit) if limit else query)

    def list_for_agent(self, agent_id: int) -> list[TicketView]:
        """Tickets the agent holds, most urgent first."""
        return self._list(_TICKETS.where(Ticket.status == TicketStatus.ASSIGNED.value)
                          .where(Ticket.agent_id == agent_id).order_by(*_QUEUE_ORDER))

    def list_assigned(self) -> list[TicketView]:
        """All assigned tickets (supervisor view)."""
        return self._list(_TICKETS.where(Ticket.status == TicketStatus.ASSIGNED.value)
                          .order_by(*_QUEUE_ORDER))

    def list_closed(self, since: datetime, limit: int = 50) -> list[TicketView]:
        """Recently closed tickets, newest first (follow-ups)."""
        return self._list(_TICKETS.where(Ticket.status == TicketStatus.CLOSED.value)
                          .where(Ticket.closed_at >= since)
                          .order_by(Ticket.closed_at.desc()).limit(limit))

    def loads(self) -> dict[int, AgentLoad]:
        """Open tickets and emergencies each agent holds now."""
        emergencies = func.sum(case((Ticket.priority == EMERGENCY, 1), else_=0))
        query = (select(Ticket.agent_id, func.count(Ticket.id), emergencies)
                 .where(Ticket.status == TicketStatus.ASSIGNED.value)
                 .group_by(Ticket.agent_id))
        with self._session() as s:
            return {agent_id: AgentLoad(int(count), int(emergencies or 0))
                    for agent_id, count, emergencies in s.execute(query) if agent_id}

    def position(self, ticket_id: int) -> int | None:
        """1-based place among waiting tickets, or None if the ticket is not waiting."""
        with self._session() as s:
            ticket = s.get(Ticket, ticket_id)
            if ticket is None or ticket.status != TicketStatus.WAITING.value:
                return None
            ahead = s.execute(
                select(func.count(Ticket.id)).where(
                    Ticket.status == TicketStatus.WAITING.value,
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

    def estimated_wait_minutes(
        self, ticket_id: int, history_minutes: int = 120, min_claims: int = 10
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
            claims = int(s.execute(
                select(func.count(Ticket.id)).where(Ticket.assigned_at >= since)).scalar_one())
        if claims < min_claims:
            return None
        per_minute = claims / history_minutes
        return max(1, math.ceil(place / per_minute))

    def escalate(self, conversation_id: str, reason: str) -> TicketView | None:
        """Move the conversation's open ticket to EMERGENCY priority at once."""
        now = utcnow()
        with self._session() as s:
            ticket = s.execute(_open_ticket_query(select(Ticket), conversation_id)
                               ).scalar_one_or_none()
            if ticket is None:
                return None
            previous = ticket.priority
            ticket.priority = EMERGENCY
            ticket.level = "emergency"
            ticket.escalated_at = now
            ticket.reason = short(reason, REASON_MAX) or ticket.reason
            stats.level_row(s, ticket, escalated=True)
            add_audit(s, "ticket_escalated", ticket_id=ticket.id,
                      detail=f"priority {previous}->{EMERGENCY}: {reason}")
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
            add_audit(s, action, agent_id, ticket_id, detail)
            if values.get("status") == TicketStatus.CLOSED.value:
                stats.close_row(s, s.get(Ticket, ticket_id))
            row = s.execute(_TICKETS.where(Ticket.id == ticket_id)).first()
            return _ticket_view(*row)

    def claim(self, ticket_id: int, agent_id: int) -> TicketView | None:
        """Take a waiting ticket. Atomic: of concurrent claims exactly one wins."""
        return self._conditional_update(
            ticket_id,
            [Ticket.status == TicketStatus.WAITING.value],
            {"status": TicketStatus.ASSIGNED.value, "agent_id": agent_id,
             "assigned_at": utcnow()},
            "ticket_claimed",
            agent_id,
        )

    def assign(self, ticket_id: int, agent_id: int, by: int | None = None) -> TicketView | None:
        """Give a waiting ticket to an agent (automatic assignment, or a supervisor).
        Atomic like ``claim``; ``by`` is who decided (None: the automatic assignment)."""
        return self._conditional_update(
            ticket_id,
            [Ticket.status == TicketStatus.WAITING.value],
            {"status": TicketStatus.ASSIGNED.value, "agent_id": agent_id,
             "assigned_at": utcnow()},
            "ticket_assigned",
            by,
            f"to_agent={agent_id}" + ("" if by else " auto"),
        )

    def release(self, ticket_id: int, agent_id: int, action: str = "ticket_released"
                ) -> TicketView | None:
        """Give a held ticket back to the queue (it keeps its original place)."""
        return self._conditional_update(
            ticket_id,
            [Ticket.status == TicketStatus.ASSIGNED.value, Ticket.agent_id == agent_id],
            {"status": TicketStatus.WAITING.value, "agent_id": None, "assigned_at": None},
            action,
            agent_id,
        )

    def transfer(self, ticket_id: int, from_agent_id: int, to_agent_id: int) -> TicketView | None:
        """Hand a held ticket to another active agent who does casework."""
        target = self.get_agent(to_agent_id)
        if (target is None or not target.active or not target.does_casework
                or to_agent_id == from_agent_id):
            return None
        return self._conditional_update(
            ticket_id,
            [Ticket.status == TicketStatus.ASSIGNED.value, Ticket.agent_id == from_agent_id],
            {"agent_id": to_agent_id, "assigned_at": utcnow()},
            "ticket_transferred",
            from_agent_id,
            f"to_agent={to_agent_id}",
        )

    def reassign(self, ticket_id: int, supervisor_id: int, to_agent_id: int) -> TicketView | None:
        """Supervisor: give an assigned ticket to another active agent (waiting ones: assign)."""
        supervisor = self.get_agent(supervisor_id)
        target = self.get_agent(to_agent_id)
        if supervisor is None or not supervisor.is_supervisor or not supervisor.active:
            return None
        if target is None or not target.active or not target.does_casework:
            return None
        return self._conditional_update(
            ticket_id,
            [Ticket.status.in_(_OPEN)],
            {"status": TicketStatus.ASSIGNED.value, "agent_id": to_agent_id,
             "assigned_at": utcnow()},
            "ticket_reassigned",
            supervisor_id,
            f"to_agent={to_agent_id}",
        )

    def close(self, ticket_id: int, agent_id: int, outcome: Outcome | str | None = None,
              tags: list[str] | tuple[str, ...] = ()) -> TicketView | None:
        """Close a ticket the agent holds (a supervisor may close any open ticket)."""
        agent = self.get_agent(agent_id)
        if agent is None:
            return None
        conditions: list[Any] = [Ticket.status.in_(_OPEN)]
        if not agent.is_supervisor:
            conditions = [Ticket.status == TicketStatus.ASSIGNED.value,
                          Ticket.agent_id == agent_id]
        parsed = Outcome.parse(outcome) if outcome else None
        clean_tags = [short(t, 32) for t in tags if t][:TAGS_MAX]
        return self._conditional_update(
            ticket_id, conditions,
            {"status": TicketStatus.CLOSED.value, "closed_at": utcnow(),
             "outcome": parsed.value if parsed else None, "tags": clean_tags or None},
            "ticket_closed", agent_id,
            f"outcome={parsed.value}" if parsed else None,
        )

    def reopen(self, ticket_id: int, agent_id: int) -> TicketView | None:
        """Undo a close that Rasa could not follow (the casework's compensation)."""
        return self._conditional_update(
            ticket_id,
            [Ticket.status == TicketStatus.CLOSED.value],
            {"status": TicketStatus.ASSIGNED.value, "agent_id": agent_id, "closed_at": None,
             "outcome": None, "tags": None},
            "ticket_reopened", agent_id,
        )

    def record_first_reply(self, ticket_id: int, at: datetime | None = None) -> None:
        """The first specialist message of this ticket (time to first human reply)."""
        at = at or utcnow()
        with self._session() as s:
            ticket = s.get(Ticket, ticket_id)
            if ticket is None or ticket.first_reply_at is not None:
                return
            ticket.first_reply_at = at
            stats.first_reply_row(s, ticket, at)

    def set_region(self, ticket_id: int, region: str) -> None:
        """Her region, from a location she gave (the console reads it from the tracker)."""
        with self._session() as s:
            ticket = s.get(Ticket, ticket_id)
            if ticket is None or not region or ticket.region == region:
                return
            ticket.region = short(region, REGION_MAX)
            stats.level_row(s, ticket)

    # ------------------------------------------------------- contact preferences
    def _conversation_digest(self, conversation_id: str) -> str:
        if self._digest is None:
            from store.crypto import data_keyring

            self._digest = data_keyring().digest
        return self._digest(f"contact:{conversation_id}")

    def set_no_contact(self, conversation_id: str, no_contact: bool = True) -> None:
        """«no me escriban»: nobody writes to her first (follow-ups, goodbyes) until she
        says otherwise."""
        key = self._conversation_digest(conversation_id)
        with self._session() as s:
            row = s.get(ContactPreference, key)
            if row is None:
                s.add(ContactPreference(conversation_digest=key, no_contact=no_contact,
                                        updated_at=utcnow()))
            else:
                row.no_contact, row.updated_at = no_contact, utcnow()
            add_audit(s, "no_contact_set" if no_contact else "no_contact_lifted")

    def no_contact_since(self, conversation_id: str) -> datetime | None:
        """When she asked not to be written to, or None."""
        with self._session() as s:
            row = s.get(ContactPreference, self._conversation_digest(conversation_id))
            return row.updated_at if row is not None and row.no_contact else None

    # ------------------------------------------------------------------ notes
    def add_note(self, ticket_id: int, agent_id: int, text_: str) -> NoteView:
        """A private note by a specialist (the audit records that it exists, not its text)."""
        now = utcnow()
        with self._session() as s:
            note = Note(ticket_id=ticket_id, agent_id=agent_id, text=text_.strip(), created_at=now)
            s.add(note)
            s.flush()
            add_audit(s, "note_added", agent_id, ticket_id, f"note={note.id}")
            username = s.get(Agent, agent_id).username if agent_id else None
            return NoteView(note.id, ticket_id, agent_id, username, note.text, now)

    def notes(self, ticket_id: int) -> list[NoteView]:
        """Notes on this ticket and on earlier tickets of the same conversation."""
        with self._session() as s:
            ticket = s.get(Ticket, ticket_id)
            if ticket is None:
                return []
            ids = select(Ticket.id).where(Ticket.conversation_key == ticket.conversation_key)
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
            add_audit(s, action, agent_id, ticket_id, detail)

    def audit_entries(self, ticket_id: int | None = None, limit: int = 200) -> list[AuditView]:
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if ticket_id is not None:
            query = query.where(AuditEntry.ticket_id == ticket_id)
        with self._session() as s:
            return [
                AuditView(a.id, a.at, a.agent_id, a.action, a.ticket_id, a.detail)
                for a in s.execute(query).scalars()
            ]

    # -------------------------------------------------------------- retention
    def purge_closed(self, before: datetime) -> int:
        """Forget the content of tickets closed before ``before``: her conversation id, her
        answers, the reason, the region and the notes. The ticket row stays (the audit points
        at it) and so does its anonymous statistics row. Returns the tickets purged."""
        with self._session() as s:
            ids = [i for (i,) in s.execute(
                select(Ticket.id).where(Ticket.status == TicketStatus.CLOSED.value,
                                        Ticket.closed_at < before,
                                        ~Ticket.conversation_key.like(f"{FORGOTTEN}%")))]
            if not ids:
                return 0
            _forget_tickets(s, ids)
            add_audit(s, "tickets_purged", detail=f"count={len(ids)}")
            return len(ids)

    def purge_audit_details(self, before: datetime) -> int:
        """Blank the detail of audit entries older than ``before`` (who did what to which
        ticket stays). Their ``detail_mac`` stays too, so the hash chain still verifies."""
        with self._session() as s:
            result = s.execute(update(AuditEntry).where(AuditEntry.at < before,
                                                        AuditEntry.detail.is_not(None))
                               .values(detail=None).execution_options(synchronize_session=False))
            return int(result.rowcount or 0)

    def held_conversations(self, since: datetime) -> set[str]:
        """Conversations whose content retention must keep: an open ticket, or a ticket
        closed at or after ``since``."""
        query = select(Ticket.conversation_id).where(
            or_(Ticket.status.in_(_OPEN), Ticket.closed_at >= since),
            ~Ticket.conversation_key.like(f"{FORGOTTEN}%"))
        with self._session() as s:  # sealed: each row decrypts to the same id, hence the set
            return {cid for (cid,) in s.execute(query)}

    def erase_conversation(self, conversation_id: str, agent_id: int | None = None) -> list[int]:
        """Erasure (she asked, or a supervisor): close her open ticket, then forget the
        content of all her tickets (number, safe-contact answer, screening answers, reason,
        notes). Statistics rows stay. Returns the ticket ids (for the audit)."""
        now = utcnow()
        with self._session() as s:
            tickets = list(s.execute(select(Ticket).where(
                Ticket.conversation_key == conversation_key(conversation_id))).scalars())
            for ticket in tickets:
                if ticket.status != TicketStatus.CLOSED.value:
                    ticket.status, ticket.closed_at = TicketStatus.CLOSED.value, now
                    stats.close_row(s, ticket)
            s.flush()
            ids = [t.id for t in tickets]
            if ids:
                _forget_tickets(s, ids)
            for ticket_id in ids:
                add_audit(s, "conversation_erased", agent_id, ticket_id)
            return ids


def _forget_tickets(s: Any, ids: list[int]) -> None:
    """Delete the notes and blank the content of these tickets (their rows stay)."""
    s.execute(delete(Note).where(Note.ticket_id.in_(ids)))
    for ticket_id in ids:
        s.execute(update(Ticket).where(Ticket.id == ticket_id).values(
            conversation_id=f"{FORGOTTEN}{ticket_id}",
            conversation_key=f"{FORGOTTEN}{ticket_id}", safe_contact=None, screening=None,
            reason="", region=None, tags=None).execution_options(synchronize_session=False))
