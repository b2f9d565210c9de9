"""Accounts in the console: who may log in, one-time codes, passwords. All audited.

- A supervisor creates a specialist or trainer account, or resets one: the account gets a
  one-time code (shown once, to that supervisor) and no usable password. The person logs in
  with the code and must choose a password before anything else. A newer code replaces an
  older one; a code works once and expires (``ONE_TIME_CODE_HOURS``, default 24).
- Deactivating ends the account's sessions at once. A supervisor cannot deactivate herself.
- Everyone changes her own password (the current one is asked, except right after a code).
Supervisor accounts are created with ``python -m console.manage`` (``make agent``).

Blocking code (database, scrypt): the console runs it in its thread pool.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import sessionmaker

from console.models import OneTimeCode
from console.security import DUMMY_HASH, MIN_PASSWORD_LENGTH, hash_password, verify_password
from console.sessions import SessionStore
from console.totp import TotpStore
from handoff.agents import UNUSABLE_PASSWORD, AgentView
from handoff.base import add_audit, utcnow
from handoff.queue import HandoffQueue
from handoff.states import Role

USERNAME = re.compile(r"^[A-Za-z0-9._-]{3,64}$")
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
ROLES_A_SUPERVISOR_CREATES = (Role.SPECIALIST, Role.TRAINER)


def new_code() -> str:
    """12 characters in three groups (about 59 bits), easy to read out on the phone."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return "-".join(raw[i:i + 4] for i in range(0, 12, 4))


def _normal_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code.upper())


@dataclass(frozen=True)
class AccountResult:
    message: str  # key of «mensajes» in console/textos.yml
    ok: bool
    agent: AgentView | None = None
    code: str | None = None  # shown once


@dataclass(frozen=True)
class LoginCheck:
    agent: AgentView | None
    with_code: bool = False


class Accounts:
    def __init__(self, queue: HandoffQueue, sessions: SessionStore, code_hours: int = 24,
                 scrypt_n: int | None = None, totp: TotpStore | None = None) -> None:
        self.queue = queue
        self.sessions = sessions
        self.totp = totp
        self.code_hours = code_hours
        self._hash_options = {"n": scrypt_n} if scrypt_n else {}
        self._db = sessionmaker(bind=queue.engine, future=True, expire_on_commit=False)

    def _hash(self, secret: str) -> str:
        return hash_password(secret, **self._hash_options)

    # -------------------------------------------------------------------- login
    def check_login(self, username: str, password: str) -> LoginCheck:
        """The account if the password (or a valid one-time code) is right. Same cost
        whether or not the username exists."""
        credentials = self.queue.credentials(username) if username else None
        usable = (credentials is not None and credentials.agent.active
                  and credentials.password_hash != UNUSABLE_PASSWORD)
        stored = credentials.password_hash if usable else DUMMY_HASH
        if verify_password(password, stored) and usable and credentials is not None:
            return LoginCheck(credentials.agent)
        if credentials is None or not credentials.agent.active:
            return LoginCheck(None)
        if self._use_code(credentials.agent.id, password):
            return LoginCheck(credentials.agent, with_code=True)
        return LoginCheck(None)

    def _use_code(self, agent_id: int, code: str) -> bool:
        with self._db() as s, s.begin():
            row = s.get(OneTimeCode, agent_id)
            if row is None or row.expires_at < utcnow():
                return False
            if not verify_password(_normal_code(code), row.code_hash):
                return False
            s.delete(row)
            add_audit(s, "login_with_code", agent_id, detail=f"account={agent_id}")
            return True

    def _issue_code(self, agent_id: int, by: int) -> str:
        code = new_code()
        with self._db() as s, s.begin():
            s.execute(delete(OneTimeCode).where(OneTimeCode.agent_id == agent_id))
            s.add(OneTimeCode(agent_id=agent_id, code_hash=self._hash(_normal_code(code)),
                              created_by=by, created_at=utcnow(),
                              expires_at=utcnow() + timedelta(hours=self.code_hours)))
            add_audit(s, "one_time_code_created", by, detail=f"account={agent_id}")
        return code

    def has_code(self, agent_id: int) -> bool:
        with self._db() as s:
            row = s.execute(select(OneTimeCode.expires_at)
                            .where(OneTimeCode.agent_id == agent_id)).first()
            return bool(row and row[0] >= utcnow())

    # --------------------------------------------------------------- supervisors
    def create(self, by: AgentView, username: str, role: str) -> AccountResult:
        parsed = Role.parse(role)
        if not by.is_supervisor or parsed not in ROLES_A_SUPERVISOR_CREATES:
            return AccountResult("not_your_role", False)
        username = (username or "").strip()
        if not USERNAME.match(username):
            return AccountResult("account_invalid", False)
        if self.queue.agent_by_username(username) is not None:
            return AccountResult("account_exists", False)
        agent = self.queue.create_agent(username, UNUSABLE_PASSWORD, parsed, by=by.id,
                                        must_change_password=True)
        return AccountResult("account_created", True, agent, self._issue_code(agent.id, by.id))

    def _target(self, by: AgentView, agent_id: int) -> AgentView | None:
        target = self.queue.get_agent(agent_id)
        if not by.is_supervisor or target is None:
            return None
        return target

    def reset(self, by: AgentView, agent_id: int) -> AccountResult:
        """The old password stops working; a one-time code lets her choose a new one."""
        target = self._target(by, agent_id)
        if target is None or target.role not in ROLES_A_SUPERVISOR_CREATES:
            return AccountResult("not_your_role", False)
        self.queue.set_password(target.id, UNUSABLE_PASSWORD, by=by.id, must_change_password=True)
        self.sessions.delete_for_agent(target.id)
        if self.totp is not None:  # a lost phone is a common reason for a reset
            self.totp.remove(target.id)
        return AccountResult("account_reset", True, target, self._issue_code(target.id, by.id))

    def clear_failures(self, by: AgentView, agent_id: int) -> AccountResult:
        """Her failed logins are forgotten: no more waiting (the guesser's address still
        waits)."""
        target = self._target(by, agent_id)
        if target is None:
            return AccountResult("not_your_role", False)
        self.sessions.clear_failures(target.username)
        self.queue.audit("login_failures_cleared", by.id, detail=f"agent={target.id}")
        return AccountResult("failures_cleared", True, target)

    def set_active(self, by: AgentView, agent_id: int, active: bool) -> AccountResult:
        target = self._target(by, agent_id)
        if target is None:
            return AccountResult("not_your_role", False)
        if target.id == by.id:
            return AccountResult("account_self", False)
        if target.role is Role.SUPERVISOR and not active:
            return AccountResult("not_your_role", False)
        self.queue.set_active(target.id, active, by=by.id)
        if not active:
            self.sessions.delete_for_agent(target.id)
        return AccountResult("account_activated" if active else "account_deactivated", True,
                             self.queue.get_agent(target.id))

    # ----------------------------------------------------------------- everyone
    def change_own(self, agent: AgentView, current: str, new: str, repeat: str,
                   keep_token: str | None) -> AccountResult:
        """Her own password; other sessions of hers end, this one stays."""
        credentials = self.queue.credentials(agent.username)
        if credentials is None:
            return AccountResult("not_allowed", False)
        if not agent.must_change_password and not verify_password(current or "",
                                                                  credentials.password_hash):
            return AccountResult("password_wrong", False)
        if len(new or "") < MIN_PASSWORD_LENGTH:
            return AccountResult("password_short", False)
        if new != repeat:
            return AccountResult("password_mismatch", False)
        self.queue.set_password(agent.id, self._hash(new), by=agent.id)
        self.queue.audit("password_changed", agent.id, detail=f"account={agent.id}")
        self.sessions.delete_for_agent(agent.id, keep=keep_token)
        return AccountResult("password_changed", True, self.queue.get_agent(agent.id))
