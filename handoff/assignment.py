"""Capacity-aware assignment (optional): who should get the next waiting case.

Rules, in order:
1. Cases go out in queue order: emergencies first, then by priority, then the oldest.
2. A case goes to an online specialist below the per-person cap (``cap`` open cases).
3. An emergency goes to someone who holds no emergency, while there is such a person; nobody
   gets a second emergency while someone else with room has none.
4. Among the remaining, the least loaded (fewest open cases, then fewest emergencies); ties go
   to the specialist who has waited longest since her last assignment (then the lowest id).

This module decides only; ``console/casework.py`` carries the decision out (assign in the queue,
pause the bot, compensate if the pause fails).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from handoff.priority import Priority, parse_priority
from handoff.queue import AgentLoad, TicketView

DEFAULT_CAP = 3


@dataclass(frozen=True)
class Candidate:
    agent_id: int
    load: AgentLoad
    last_assigned_at: datetime | None = None


def choose_agent(priority: int, candidates: Iterable[Candidate], cap: int) -> Candidate | None:
    """The candidate who should get a case of this priority, or None if nobody has room."""
    eligible = [c for c in candidates if c.load.open < cap]
    if parse_priority(priority) is Priority.EMERGENCY:
        without = [c for c in eligible if c.load.emergencies == 0]
        eligible = without or eligible
    if not eligible:
        return None
    return min(eligible, key=lambda c: (c.load.open, c.load.emergencies,
                                        c.last_assigned_at or datetime.min, c.agent_id))


def plan(waiting: Sequence[TicketView], candidates: Iterable[Candidate], cap: int
         ) -> list[tuple[int, int]]:
    """(ticket id, agent id) pairs for as many waiting tickets as the capacity allows."""
    pool = {c.agent_id: c for c in candidates}
    ordered = sorted(waiting, key=lambda t: (t.priority, t.created_at, t.id))
    pairs: list[tuple[int, int]] = []
    for ticket in ordered:
        chosen = choose_agent(ticket.priority, pool.values(), cap)
        if chosen is None:
            break  # nobody has room: later (less urgent) tickets cannot jump ahead
        pairs.append((ticket.id, chosen.agent_id))
        emergency = parse_priority(ticket.priority) is Priority.EMERGENCY
        pool[chosen.agent_id] = replace(chosen, load=AgentLoad(
            chosen.load.open + 1, chosen.load.emergencies + int(emergency)),
            last_assigned_at=datetime.max)  # just assigned: last among equals
    return pairs
