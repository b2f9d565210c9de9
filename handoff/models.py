"""SQLAlchemy tables of the handoff queue (own MetaData; the console adds its tables to it).

Columns added after the first release are nullable (or have a server default) so that
``handoff.schema.upgrade`` can add them to an existing database in place.

Her number (the conversation id), her safe-contact answer, her screening answers, the ticket's
reason (the triage's label names the kind of violence) and the notes are sealed at rest (``store/crypto_types.py``); tickets are looked up by ``conversation_key``,
a keyed digest of the conversation id (``HandoffQueue.conversation_key``), never by the
sealed column.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    false,
)
from sqlalchemy.orm import declarative_base

from handoff.states import Role, TicketStatus
from store.crypto_types import EncryptedJSON, EncryptedText

metadata = MetaData()
Base = declarative_base(metadata=metadata)


class Ticket(Base):
    __tablename__ = "handoff_tickets"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(EncryptedText, nullable=False)  # sealed: her phone number
    status = Column(String(16), nullable=False, default=TicketStatus.WAITING.value)
    level = Column(String(16), nullable=False, default="other")
    priority = Column(Integer, nullable=False)
    reason = Column(EncryptedText, nullable=False, default="")  # sealed: names the violence
    safe_contact = Column(EncryptedText)
    screening = Column(EncryptedJSON)
    agent_id = Column(Integer, ForeignKey("handoff_agents.id"))
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    assigned_at = Column(DateTime)
    closed_at = Column(DateTime)
    escalated_at = Column(DateTime)
    # added with the reports (nullable: old rows stay valid)
    region = Column(String(64))  # only from a location she gave
    first_reply_at = Column(DateTime)  # first message of a specialist
    outcome = Column(String(32))  # handoff.states.Outcome, set on close
    tags = Column(JSON)  # list of tag codes from console/textos.yml
    stats_id = Column(Integer)  # her anonymous row in handoff_stats (survives the purge)
    # keyed digest of conversation_id (or ``purged:<id>`` once forgotten); nullable only so
    # that the upgrade can add it, which fills it for every old row
    conversation_key = Column(String(64))

    __table_args__ = (
        Index("ix_handoff_tickets_conversation_key_status", "conversation_key", "status"),
        Index("ix_handoff_tickets_queue", "status", "priority", "created_at"),
        Index("ix_handoff_tickets_agent_status", "agent_id", "status"),
    )


class Agent(Base):
    __tablename__ = "handoff_agents"

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    password_hash = Column(String(256), nullable=False)
    role = Column(String(16), nullable=False, default=Role.SPECIALIST.value)
    last_seen_at = Column(DateTime)
    active = Column(Boolean, nullable=False, default=True)
    # added with accounts in the console
    created_at = Column(DateTime)
    must_change_password = Column(Boolean, nullable=False, default=False, server_default=false())


class Note(Base):
    __tablename__ = "handoff_notes"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("handoff_tickets.id"), nullable=False, index=True)
    agent_id = Column(Integer, ForeignKey("handoff_agents.id"))
    text = Column(EncryptedText, nullable=False)  # sealed
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)


class AuditEntry(Base):
    __tablename__ = "handoff_audit"

    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False, default=datetime.utcnow, index=True)
    agent_id = Column(Integer, ForeignKey("handoff_agents.id"))
    action = Column(String(64), nullable=False)
    ticket_id = Column(Integer, ForeignKey("handoff_tickets.id"), index=True)
    detail = Column(String(500))
    # hash chain (handoff/audit_chain.py): a keyed digest of the detail, so that the purge can
    # blank the detail and keep the chain; and the entry's link, chained to the previous one
    detail_mac = Column(String(64))
    chain_hash = Column(String(64))


class ContactPreference(Base):
    """«no me escriban»: keyed by a keyed digest of the conversation id, never the number."""

    __tablename__ = "handoff_contact_preferences"

    conversation_digest = Column(String(64), primary_key=True)
    no_contact = Column(Boolean, nullable=False, default=True)
    updated_at = Column(DateTime, nullable=False, default=datetime.utcnow)


# ---------------------------------------------------------------- anonymous statistics
# No conversation id, no text, no agent: these rows survive the retention purge.
class HandoffStat(Base):
    """One handoff: its level, times, outcome and region."""

    __tablename__ = "handoff_stats"

    id = Column(Integer, primary_key=True)
    opened_at = Column(DateTime, nullable=False, index=True)  # to the minute
    level = Column(String(16), nullable=False)
    priority = Column(Integer, nullable=False)
    escalated = Column(Boolean, nullable=False, default=False)
    first_reply_seconds = Column(Integer)
    closed_at = Column(DateTime)
    outcome = Column(String(32))
    tags = Column(JSON)
    region = Column(String(64))
    abandoned = Column(Boolean)  # closed with no specialist reply


class ContactStat(Base):
    """One conversation (a Rasa session) and whether it was her first in the day/week/month."""

    __tablename__ = "handoff_stats_contacts"

    id = Column(Integer, primary_key=True)
    started_at = Column(DateTime, nullable=False, index=True)  # to the hour
    first_in_day = Column(Boolean, nullable=False)
    first_in_week = Column(Boolean, nullable=False)
    first_in_month = Column(Boolean, nullable=False)


class PersonSeen(Base):
    """Last day/week/month a person wrote, by keyed digest; purged after about 40 days.

    Only needed to count people without storing who they are in the statistics rows.
    """

    __tablename__ = "handoff_stats_seen"

    person_digest = Column(String(64), primary_key=True)
    day = Column(String(10), nullable=False)  # 2026-12-01 (Chile's local date)
    week = Column(String(8), nullable=False)  # 2026-W49
    month = Column(String(7), nullable=False)  # 2026-12
    seen_at = Column(DateTime, nullable=False, index=True)
