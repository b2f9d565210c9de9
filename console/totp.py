"""TOTP second factor (pyotp): enrolment with a shown secret, then a code at every login.

Blocking (the console runs these in its thread pool). Codes of the previous, current and next
30-second step are accepted, each step once.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime, timezone
from enum import Enum

import pyotp
from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from console.models import ConsoleTotp, metadata
from handoff.base import utcnow
from handoff.schema import upgrade

ISSUER = "Consola de especialistas"
STEP_SECONDS = 30
CODE_DIGITS = 6


class TotpState(str, Enum):
    NONE = "none"
    PENDING = "pending"  # secret shown, no code confirmed yet
    ACTIVE = "active"


def otpauth_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def _code(raw: str | None) -> str:
    return "".join((raw or "").split())[:CODE_DIGITS + 2]


class TotpStore:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utcnow) -> None:
        upgrade(engine, metadata)
        self._db = sessionmaker(bind=engine, future=True, expire_on_commit=False)
        self._now = clock

    def state(self, agent_id: int) -> TotpState:
        with self._db() as s:
            row = s.get(ConsoleTotp, agent_id)
        if row is None:
            return TotpState.NONE
        return TotpState.ACTIVE if row.confirmed_at else TotpState.PENDING

    def pending_secret(self, agent_id: int) -> str | None:
        """The secret to show while enrolling: the pending one, or a new one (None when
        already active)."""
        with self._db() as s, s.begin():
            row = s.get(ConsoleTotp, agent_id)
            if row is not None and row.confirmed_at:
                return None
            if row is None:
                row = ConsoleTotp(agent_id=agent_id, secret=pyotp.random_base32(),
                                  created_at=self._now())
                s.add(row)
            return row.secret

    def _matching_step(self, secret: str, code: str) -> int | None:
        now = self._now().replace(tzinfo=timezone.utc).timestamp()
        current = int(now // STEP_SECONDS)
        totp = pyotp.TOTP(secret)
        for step in (current - 1, current, current + 1):
            if hmac.compare_digest(totp.generate_otp(step), code):
                return step
        return None

    def check(self, agent_id: int, raw_code: str | None) -> bool:
        """A code of her secret (pending: this confirms it), not used before."""
        code = _code(raw_code)
        if len(code) != CODE_DIGITS or not code.isdigit():
            return False
        with self._db() as s, s.begin():
            row = s.get(ConsoleTotp, agent_id)
            step = self._matching_step(row.secret, code) if row else None
            if row is None or step is None:
                return False
            # conditional: of two logins with the same code, one wins
            done = s.execute(
                update(ConsoleTotp).where(
                    ConsoleTotp.agent_id == agent_id,
                    (ConsoleTotp.last_step.is_(None)) | (ConsoleTotp.last_step < step))
                .values(last_step=step, confirmed_at=row.confirmed_at or self._now()))
            return done.rowcount == 1

    def remove(self, agent_id: int) -> None:
        with self._db() as s, s.begin():
            s.execute(delete(ConsoleTotp).where(ConsoleTotp.agent_id == agent_id))
