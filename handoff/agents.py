"""The people who work the queue: accounts, roles, who is online.

A view of an account never carries its password hash; only ``credentials`` does, and only
the console's login uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from handoff.base import Store, add_audit, utcnow
from handoff.models import Agent
from handoff.states import Role

ONLINE_WINDOW_SECONDS = 120
UNUSABLE_PASSWORD = "!"  # an account created in the console has no password until first login


@dataclass(frozen=True)
class AgentView:
    id: int
    username: str
    role: Role
    active: bool
    last_seen_at: datetime | None
    must_change_password: bool = False
    created_at: datetime | None = None

    @property
    def is_supervisor(self) -> bool:
        return self.role.supervises

    @property
    def does_casework(self) -> bool:
        return self.role.does_casework

    def online(self, now: datetime | None = None,
               window_seconds: int = ONLINE_WINDOW_SECONDS) -> bool:
        now = now or utcnow()
        return bool(self.active and self.last_seen_at
                    and now - self.last_seen_at <= timedelta(seconds=window_seconds))


@dataclass(frozen=True)
class Credentials:
    agent: AgentView
    password_hash: str


def agent_view(agent: Agent) -> AgentView:
    return AgentView(
        id=agent.id,
        username=agent.username,
        role=Role.parse(agent.role) or Role.SPECIALIST,
        active=bool(agent.active),
        last_seen_at=agent.last_seen_at,
        must_change_password=bool(agent.must_change_password),
        created_at=agent.created_at,
    )


class AgentDirectory(Store):
    """Reads and writes of ``handoff_agents``."""

    def create_agent(
        self,
        username: str,
        password_hash: str,
        role: Role | str = Role.SPECIALIST,
        by: int | None = None,
        must_change_password: bool = False,
    ) -> AgentView:
        parsed = Role.parse(role)
        if parsed is None:
            raise ValueError(f"unknown role: {role}")
        with self._session() as s:
            agent = Agent(username=username, password_hash=password_hash, role=parsed.value,
                          active=True, created_at=utcnow(),
                          must_change_password=must_change_password)
            s.add(agent)
            s.flush()
            # who did it (None: the command line, shown as «sistema»)
            add_audit(s, "agent_created", by, detail=f"account={agent.id} role={parsed.value}")
            return agent_view(agent)

    def get_agent(self, agent_id: int) -> AgentView | None:
        with self._session() as s:
            agent = s.get(Agent, agent_id)
            return agent_view(agent) if agent else None

    def agent_by_username(self, username: str) -> AgentView | None:
        credentials = self.credentials(username)
        return credentials.agent if credentials else None

    def credentials(self, username: str) -> Credentials | None:
        """The account and its password hash (for the login check only)."""
        with self._session() as s:
            agent = s.execute(
                select(Agent).where(Agent.username == username)
            ).scalar_one_or_none()
            return Credentials(agent_view(agent), agent.password_hash) if agent else None

    def list_agents(self, active_only: bool = True) -> list[AgentView]:
        query = select(Agent).order_by(Agent.username)
        if active_only:
            query = query.where(Agent.active.is_(True))
        with self._session() as s:
            return [agent_view(a) for a in s.execute(query).scalars()]

    def set_password(self, agent_id: int, password_hash: str, by: int | None = None,
                     must_change_password: bool = False) -> None:
        with self._session() as s:
            s.execute(update(Agent).where(Agent.id == agent_id).values(
                password_hash=password_hash, must_change_password=must_change_password))
            add_audit(s, "password_set", by, detail=f"account={agent_id}")

    def set_active(self, agent_id: int, active: bool, by: int | None = None) -> None:
        with self._session() as s:
            s.execute(update(Agent).where(Agent.id == agent_id).values(active=active))
            add_audit(s, "agent_activated" if active else "agent_deactivated", by,
                      detail=f"account={agent_id}")

    def touch_agent(self, agent_id: int) -> None:
        """Mark the agent as seen now (the console calls this while it is open)."""
        with self._session() as s:
            s.execute(update(Agent).where(Agent.id == agent_id).values(last_seen_at=utcnow()))

    def online_agents(self, window_seconds: int = ONLINE_WINDOW_SECONDS) -> int:
        """Active specialists and supervisors whose console was open within the window."""
        since = utcnow() - timedelta(seconds=window_seconds)
        casework = [Role.SPECIALIST.value, Role.SUPERVISOR.value]
        with self._session() as s:
            return int(s.execute(
                select(func.count(Agent.id)).where(
                    Agent.active.is_(True), Agent.last_seen_at >= since,
                    Agent.role.in_(casework))
            ).scalar_one())
