"""SQLAlchemy tables of the handoff queue and the console (own MetaData)."""

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
    Text,
)
from sqlalchemy.orm import declarative_base

metadata = MetaData()
Base = declarative_base(metadata=metadata)

WAITING = "waiting"
ASSIGNED = "assigned"
CLOSED = "closed"

SPECIALIST = "specialist"
SUPERVISOR = "supervisor"


class Ticket(Base):
    __tablename__ = "handoff_tickets"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(128), nullable=False)
    status = Column(String(16), nullable=False, default=WAITING)
    level = Column(String(16), nullable=False, default="other")
    priority = Column(Integer, nullable=False)
    reason = Column(String(200), nullable=False, default="")
    safe_contact = Column(String(200))
    screening = Column(JSON)
    agent_id = Column(Integer, ForeignKey("handoff_agents.id"))
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    assigned_at = Column(DateTime)
    closed_at = Column(DateTime)
    escalated_at = Column(DateTime)

    __table_args__ = (
        Index("ix_handoff_tickets_conversation_status", "conversation_id", "status"),
        Index("ix_handoff_tickets_queue", "status", "priority", "created_at"),
        Index("ix_handoff_tickets_agent_status", "agent_id", "status"),
    )


class Agent(Base):
    __tablename__ = "handoff_agents"

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    password_hash = Column(String(256), nullable=False)
    role = Column(String(16), nullable=False, default=SPECIALIST)
    last_seen_at = Column(DateTime)
    active = Column(Boolean, nullable=False, default=True)


class Note(Base):
    __tablename__ = "handoff_notes"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("handoff_tickets.id"), nullable=False, index=True)
    agent_id = Column(Integer, ForeignKey("handoff_agents.id"))
    text = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)


class AuditEntry(Base):
    __tablename__ = "handoff_audit"

    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False, default=datetime.utcnow, index=True)
    agent_id = Column(Integer, ForeignKey("handoff_agents.id"))
    action = Column(String(64), nullable=False)
    ticket_id = Column(Integer, ForeignKey("handoff_tickets.id"), index=True)
    detail = Column(String(500))


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    token_hash = Column(String(64), primary_key=True)
    agent_id = Column(Integer, ForeignKey("handoff_agents.id"), nullable=False)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    expires_at = Column(DateTime, nullable=False)


class LoginFailure(Base):
    """Failed logins, for rate limiting per username and per IP (digests only)."""

    __tablename__ = "console_login_failures"

    id = Column(Integer, primary_key=True)
    username_digest = Column(String(64), nullable=False, index=True)
    ip_digest = Column(String(64), nullable=False, index=True)
    at = Column(DateTime, nullable=False, default=datetime.utcnow, index=True)
