"""Server-side console sessions and the login rate limit (blocking: the console runs these
in its thread pool)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from console.models import ConsoleSession, LoginFailure, metadata
from console.security import new_token, token_digest
from handoff.base import utcnow
from handoff.schema import upgrade


@dataclass(frozen=True)
class SessionInfo:
    agent_id: int
    csrf_token: str


class SessionStore:
    def __init__(self, engine: Engine, secret: str = "", hours: float = 12.0) -> None:
        upgrade(engine, metadata)
        self._sessions = sessionmaker(bind=engine, future=True, expire_on_commit=False)
        self._secret = secret
        self._lifetime = timedelta(hours=hours)

    def create(self, agent_id: int) -> tuple[str, SessionInfo]:
        """A new session; returns the cookie token (only its digest is stored)."""
        token, csrf = new_token(), new_token()
        now = utcnow()
        with self._sessions() as s, s.begin():
            s.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
            s.add(ConsoleSession(token_hash=token_digest(token, self._secret), agent_id=agent_id,
                                 csrf_token=csrf, created_at=now,
                                 expires_at=now + self._lifetime))
        return token, SessionInfo(agent_id, csrf)

    def get(self, token: str | None) -> SessionInfo | None:
        if not token or len(token) > 128:
            return None
        with self._sessions() as s:
            row = s.get(ConsoleSession, token_digest(token, self._secret))
            if row is None or row.expires_at < utcnow():
                return None
            return SessionInfo(row.agent_id, row.csrf_token)

    def delete(self, token: str | None) -> None:
        if not token:
            return
        with self._sessions() as s, s.begin():
            s.execute(delete(ConsoleSession)
                      .where(ConsoleSession.token_hash == token_digest(token, self._secret)))

    def delete_for_agent(self, agent_id: int, keep: str | None = None) -> None:
        """End the agent's sessions (all, or all but the one with token ``keep``)."""
        query = delete(ConsoleSession).where(ConsoleSession.agent_id == agent_id)
        if keep:
            query = query.where(ConsoleSession.token_hash != token_digest(keep, self._secret))
        with self._sessions() as s, s.begin():
            s.execute(query)

    # ------------------------------------------------------------ rate limit
    # Only digests are stored: people sometimes type their password as the username.
    def _key(self, value: str) -> str:
        return token_digest(value.strip().lower(), self._secret)

    def failures(self, username: str, ip: str, minutes: int) -> tuple[int, int]:
        """Failed logins in the window: (for this username, from this IP)."""
        since = utcnow() - timedelta(minutes=minutes)
        username, ip = self._key(username), self._key(ip)
        with self._sessions() as s:
            by_user = s.execute(select(func.count(LoginFailure.id)).where(
                LoginFailure.username_digest == username, LoginFailure.at >= since)).scalar_one()
            by_ip = s.execute(select(func.count(LoginFailure.id)).where(
                LoginFailure.ip_digest == ip, LoginFailure.at >= since)).scalar_one()
        return int(by_user), int(by_ip)

    def record_failure(self, username: str, ip: str) -> None:
        now = utcnow()
        with self._sessions() as s, s.begin():
            s.execute(delete(LoginFailure).where(LoginFailure.at < now - timedelta(days=1)))
            s.add(LoginFailure(username_digest=self._key(username), ip_digest=self._key(ip), at=now))

    def clear_failures(self, username: str) -> None:
        with self._sessions() as s, s.begin():
            s.execute(delete(LoginFailure).where(LoginFailure.username_digest == self._key(username)))
