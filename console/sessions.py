"""Server-side console sessions and the login rate limit (blocking: the console runs these
in its thread pool)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from console.models import ConsoleSession, LoginFailure, metadata
from console.security import new_token, token_digest
from console.throttle import Failures
from handoff.base import utcnow
from handoff.schema import upgrade


@dataclass(frozen=True)
class SessionInfo:
    agent_id: int
    csrf_token: str


# last_used_at is written at most this often (a page load, not every request, is a write)
RENEW_EVERY = timedelta(seconds=15)


class SessionStore:
    def __init__(self, engine: Engine, secret: str = "", hours: float = 12.0,
                 idle_minutes: float = 30.0, clock: Callable[[], datetime] = utcnow) -> None:
        upgrade(engine, metadata)
        self._sessions = sessionmaker(bind=engine, future=True, expire_on_commit=False)
        self._secret = secret
        self._lifetime = timedelta(hours=hours)
        self._idle = timedelta(minutes=idle_minutes)
        self._now = clock

    def create(self, agent_id: int) -> tuple[str, SessionInfo]:
        """A new session; returns the cookie token (only its digest is stored)."""
        token, csrf = new_token(), new_token()
        now = self._now()
        with self._sessions() as s, s.begin():
            s.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
            s.add(ConsoleSession(token_hash=token_digest(token, self._secret), agent_id=agent_id,
                                 csrf_token=csrf, created_at=now, last_used_at=now,
                                 expires_at=now + self._lifetime))
        return token, SessionInfo(agent_id, csrf)

    def get(self, token: str | None, renew: bool = False) -> SessionInfo | None:
        """The live session of this token; ``renew``: this request is her activity.

        A session past its lifetime, or unused for the idle time, is deleted and refused."""
        if not token or len(token) > 128:
            return None
        digest, now = token_digest(token, self._secret), self._now()
        with self._sessions() as s, s.begin():
            row = s.get(ConsoleSession, digest)
            if row is None:
                return None
            used = row.last_used_at or row.created_at
            if row.expires_at < now or now - used > self._idle:
                s.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == digest))
                return None
            if renew and now - used > RENEW_EVERY:
                s.execute(update(ConsoleSession).where(ConsoleSession.token_hash == digest)
                          .values(last_used_at=now))
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

    def now(self) -> datetime:
        return self._now()

    def failures(self, username: str, ip: str, minutes: int) -> tuple[Failures, Failures]:
        """Failed logins in the window: (for this username, from this address)."""
        since = self._now() - timedelta(minutes=minutes)
        with self._sessions() as s:
            found = []
            for column, value in ((LoginFailure.username_digest, username),
                                  (LoginFailure.ip_digest, ip)):
                count, last = s.execute(
                    select(func.count(LoginFailure.id), func.max(LoginFailure.at))
                    .where(column == self._key(value), LoginFailure.at >= since)).one()
                found.append(Failures(int(count or 0), last))
        return found[0], found[1]

    def record_failure(self, username: str, ip: str) -> None:
        now = self._now()
        with self._sessions() as s, s.begin():
            s.execute(delete(LoginFailure).where(LoginFailure.at < now - timedelta(days=1)))
            s.add(LoginFailure(username_digest=self._key(username), ip_digest=self._key(ip), at=now))

    def clear_failures(self, username: str) -> None:
        """Forget the account's failures; the addresses they came from still count theirs."""
        with self._sessions() as s, s.begin():
            s.execute(update(LoginFailure)
                      .where(LoginFailure.username_digest == self._key(username))
                      .values(username_digest=""))
