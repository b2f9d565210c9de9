"""The supervisor's live view: who waits, for how long, who holds what, what is late.

Built from the queue on every poll; the page highlights SLA breaches and alerts (banner and
sound). To alert at the moment of the breach and not only at the next poll, each waiting
case carries ``breach_at`` (epoch ms) and the page sets a timer for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from console.views import TicketPresenter, epoch_ms
from handoff.agents import AgentView
from handoff.priority import Priority
from handoff.queue import AgentLoad, TicketView


def live_view(waiting: list[TicketView], assigned: list[TicketView], agents: list[AgentView],
              loads: dict[int, AgentLoad], present: TicketPresenter, now: datetime,
              cap: int) -> dict[str, Any]:
    rows = [present(t, now, i + 1) for i, t in enumerate(waiting)]
    held = [present(t, now) for t in assigned]
    by_priority = []
    for priority in Priority:
        items = [r for r in rows if r["priority"] == priority]
        by_priority.append({
            "priority": int(priority),
            "label": present.texts.get("prioridades", int(priority)),
            "count": len(items),
            "longest": (max(items, key=lambda r: r["waiting_seconds"])["waiting_text"]
                        if items else ""),
            "breached": sum(1 for r in items if r["breached"]),
        })
    longest = max(rows, key=lambda r: r["waiting_seconds"], default=None)
    staff = []
    for agent in agents:
        if not agent.does_casework:
            continue
        load = loads.get(agent.id, AgentLoad())
        staff.append({
            "id": agent.id, "username": agent.username,
            "role_label": present.texts.get("roles", agent.role),
            "online": agent.online(now), "open": load.open, "emergencies": load.emergencies,
            "full": load.open >= cap,
        })
    staff.sort(key=lambda a: (not a["online"], a["open"], a["username"]))
    return {
        "now": epoch_ms(now),
        "waiting": rows,
        "assigned": held,
        "by_priority": by_priority,
        "longest": longest,
        "staff": staff,
        "online": sum(1 for a in staff if a["online"]),
        "breaches": [r for r in rows if r["breached"]],
        "cap": cap,
    }


def sla_watch(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the page needs to alert at the breach itself: id, label, priority, breach time."""
    return [{"id": r["id"], "label": r["label"], "priority_label": r["priority_label"],
             "breach_at": r["breach_at"]} for r in rows if r["breach_at"] is not None]
