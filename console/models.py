"""The console's own tables: sessions, failed logins, one-time codes.

They share the handoff MetaData (their foreign keys point at ``handoff_agents``). The first
two lived in ``handoff/models.py`` before and kept their names, so existing databases need no
migration; ``handoff.schema.upgrade`` creates the new one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String

from handoff.models import Base, metadata

__all__ = ["ConsoleSession", "ConsoleTotp", "LoginFailure", "OneTimeCode", "metadata"]


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    token_hash = Column(String(64), primary_key=True)
    agent_id = Column(Integer, ForeignKey("handoff_agents.id"), nullable=False)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    expires_at = Column(DateTime, nullable=False)
    # the idle timeout counts from here (NULL in rows older than the column: created_at)
    last_used_at = Column(DateTime, nullable=True)


class LoginFailure(Base):
    """Failed logins, for rate limiting per username and per IP (digests only)."""

    __tablename__ = "console_login_failures"

    id = Column(Integer, primary_key=True)
    username_digest = Column(String(64), nullable=False, index=True)
    ip_digest = Column(String(64), nullable=False, index=True)
    at = Column(DateTime, nullable=False, default=datetime.utcnow, index=True)


class OneTimeCode(Base):
    """A code a supervisor gives a specialist to log in once and choose her password.

    Only a scrypt hash is stored; the code is shown once, to the supervisor who made it.
    A newer code replaces older ones; using it deletes it.
    """

    __tablename__ = "console_one_time_codes"

    agent_id = Column(Integer, ForeignKey("handoff_agents.id"), primary_key=True)
    code_hash = Column(String(256), nullable=False)
    created_by = Column(Integer, ForeignKey("handoff_agents.id"))
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    expires_at = Column(DateTime, nullable=False)


class ConsoleTotp(Base):
    """A TOTP second factor (RFC 6238): active once she confirmed a first code.

    ``last_step`` is the 30-second step of the last code accepted: a code is never used twice.
    """

    __tablename__ = "console_totp"

    agent_id = Column(Integer, ForeignKey("handoff_agents.id"), primary_key=True)
    secret = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False, default=datetime.utcnow)
    confirmed_at = Column(DateTime, nullable=True)
    last_step = Column(Integer, nullable=True)
