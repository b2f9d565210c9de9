"""Automatic, capacity-aware assignment (``AUTO_ASSIGN=1``): a loop in the console process.

Every ``auto_assign_seconds`` it asks ``handoff.assignment.plan`` who should get which waiting
case among the specialists online now (supervisors and trainers are never assigned), and
carries each decision out through ``Casework.assign`` (assign, pause the bot, undo on failure).
The queue's conditional update keeps this safe next to specialists claiming by hand.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from console.casework import Casework
from handoff.assignment import Candidate, plan
from handoff.base import utcnow
from handoff.queue import AgentLoad
from handoff.states import Role

logger = logging.getLogger(__name__)


async def assign_once(queue: Any, casework: Casework, cap: int) -> list[tuple[int, int]]:
    """One round; returns the (ticket, agent) pairs that were assigned."""
    now = utcnow()
    waiting = await queue.list_waiting()
    if not waiting:
        return []
    loads = await queue.loads()
    candidates = [Candidate(a.id, loads.get(a.id) or AgentLoad())
                  for a in await queue.list_agents()
                  if a.role is Role.SPECIALIST and a.online(now)]
    done = []
    for ticket_id, agent_id in plan(waiting, candidates, cap):
        result = await casework.assign(ticket_id, agent_id, None)
        if result.ok:
            done.append((ticket_id, agent_id))
        else:
            logger.warning("Automatic assignment of ticket %s: %s", ticket_id, result.message)
    return done


async def run_forever(queue: Any, casework: Casework, cap: int, every: float) -> None:
    while True:
        try:
            await assign_once(queue, casework, cap)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the loop must survive a bad round
            logger.exception("Automatic assignment round failed.")
        await asyncio.sleep(every)
