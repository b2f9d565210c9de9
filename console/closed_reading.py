"""Opening a closed case: she says why, and the reason goes into the audit log.

A reason given in one login session opens that case for that session for ``minutes`` (each
opening of the page renews it), so the page's polling and the redirect after a button keep
working. The grants live in memory (the console runs one worker); a restart asks again.
Only the reason the specialist types is kept, limited in length, never anything about her.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from console.security import token_digest

REASON_MIN = 3
REASON_MAX = 200
MAX_GRANTS = 10_000


class ReasonProblem(str, Enum):
    """Why a reason is refused; the values are keys of «mensajes» in textos.yml."""

    SHORT = "reason_short"
    LONG = "reason_long"


def clean_reason(raw: str | None) -> tuple[str | None, ReasonProblem | None]:
    """One line of text, or why not."""
    reason = " ".join("".join(ch if ch.isprintable() else " " for ch in raw or "").split())
    if len(reason) < REASON_MIN:
        return None, ReasonProblem.SHORT
    if len(reason) > REASON_MAX:
        return None, ReasonProblem.LONG
    return reason, None


@dataclass
class _Grant:
    reason: str
    until: datetime


class ClosedReadings:
    def __init__(self, clock: Callable[[], datetime], minutes: float = 30.0) -> None:
        self._now = clock
        self._ttl = timedelta(minutes=minutes)
        self._grants: dict[tuple[str, int], _Grant] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(session_token: str, ticket_id: int) -> tuple[str, int]:
        return token_digest(session_token), ticket_id

    def grant(self, session_token: str, ticket_id: int, reason: str) -> None:
        now = self._now()
        with self._lock:
            if len(self._grants) >= MAX_GRANTS:
                self._grants = {k: g for k, g in self._grants.items() if g.until > now}
                while len(self._grants) >= MAX_GRANTS:  # still full: the oldest go
                    self._grants.pop(next(iter(self._grants)))
            self._grants[self._key(session_token, ticket_id)] = _Grant(reason, now + self._ttl)

    def reason(self, session_token: str, ticket_id: int, renew: bool = False) -> str | None:
        """The reason she gave in this session, while it holds."""
        now = self._now()
        with self._lock:
            grant = self._grants.get(self._key(session_token, ticket_id))
            if grant is None or grant.until <= now:
                return None
            if renew:
                grant.until = now + self._ttl
            return grant.reason
