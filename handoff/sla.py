"""How long a waiting case may wait before the supervisors are alerted (service levels).

Defaults: an emergency waiting more than 2 minutes, a high-risk case more than 10, a risk case
more than 30; a request for a person has no limit. Configurable in minutes (decimals allowed):

    SLA_EMERGENCY_MINUTES=2  SLA_HIGH_RISK_MINUTES=10  SLA_RISK_MINUTES=30  SLA_PERSON_MINUTES=

An empty value or ``0`` means no limit for that priority. The clock starts when the case
entered the queue, or, for a case that escalated to an emergency, when it escalated.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from handoff.priority import Priority, parse_priority
from handoff.queue import TicketView
from handoff.states import TicketStatus

logger = logging.getLogger(__name__)

DEFAULT_MINUTES: dict[Priority, float | None] = {
    Priority.EMERGENCY: 2,
    Priority.HIGH_RISK: 10,
    Priority.RISK: 30,
    Priority.PERSON: None,
}
ENV_NAMES = {
    Priority.EMERGENCY: "SLA_EMERGENCY_MINUTES",
    Priority.HIGH_RISK: "SLA_HIGH_RISK_MINUTES",
    Priority.RISK: "SLA_RISK_MINUTES",
    Priority.PERSON: "SLA_PERSON_MINUTES",
}


def _minutes(raw: str | None, default: float | None, name: str) -> float | None:
    if raw is None:
        return default
    raw = raw.strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        logger.warning("%s=%r is not a number of minutes; using %s", name, raw, default)
        return default
    if value < 0:
        logger.warning("%s is negative; using %s", name, default)
        return default
    return value or None


@dataclass(frozen=True)
class SlaPolicy:
    minutes: Mapping[Priority, float | None] = field(
        default_factory=lambda: dict(DEFAULT_MINUTES))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SlaPolicy:
        env = os.environ if env is None else env
        return cls({p: _minutes(env.get(name), DEFAULT_MINUTES[p], name)
                    for p, name in ENV_NAMES.items()})

    def limit_for(self, priority: int) -> timedelta | None:
        minutes = self.minutes.get(parse_priority(priority))
        return timedelta(minutes=minutes) if minutes else None

    @staticmethod
    def clock_start(ticket: TicketView) -> datetime:
        if parse_priority(ticket.priority) is Priority.EMERGENCY and ticket.escalated_at:
            return max(ticket.created_at, ticket.escalated_at)
        return ticket.created_at

    def breach_at(self, ticket: TicketView) -> datetime | None:
        """When a waiting ticket breaches its limit (None: not waiting, or no limit)."""
        if ticket.status is not TicketStatus.WAITING:
            return None
        limit = self.limit_for(ticket.priority)
        return self.clock_start(ticket) + limit if limit else None

    def breached(self, ticket: TicketView, now: datetime) -> bool:
        """Waiting longer than its limit (strictly: at exactly the limit it is not yet late)."""
        at = self.breach_at(ticket)
        return at is not None and now > at
