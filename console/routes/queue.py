"""The live queue (``/`` and ``/api/queue``, polled by every console page)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, json

from console.supervision import sla_watch
from console.views import epoch_ms
from console.web import Services, casework_only, me, render, services
from handoff.agents import AgentView
from handoff.base import utcnow

RECENTLY_CLOSED = timedelta(days=7)  # closed cases listed for a follow-up
CLOSED_SHOWN = 20


async def queue_state(s: Services, agent: AgentView) -> dict[str, Any]:
    now = utcnow()
    waiting = [s.present(t, now, i + 1) for i, t in enumerate(await s.queue.list_waiting())]
    mine = [s.present(t, now) for t in await s.queue.list_for_agent(agent.id)]
    assigned = ([s.present(t, now) for t in await s.queue.list_assigned()]
                if agent.is_supervisor else [])
    closed = [s.present(t, now) for t in await s.queue.list_closed(now - RECENTLY_CLOSED)
              if agent.is_supervisor or t.agent_id == agent.id][:CLOSED_SHOWN]
    alerts = [t for t in waiting if t["alert"]] + [t for t in mine if t["alert"]]
    state = {
        "me": {"id": agent.id, "username": agent.username, "role": agent.role.value},
        "online_agents": await s.queue.online_agents(),
        "waiting": waiting,
        "mine": mine,
        "assigned": assigned,
        "closed": closed,
        "alerts": [{"id": t["id"], "label": t["label"], "status": t["status"]} for t in alerts],
    }
    if agent.is_supervisor:
        state["sla"] = {"now": epoch_ms(now), "watch": sla_watch(waiting),
                        "breaches": [t["id"] for t in waiting if t["breached"]]}
    return state


def fragments(request: Request, state: dict[str, Any]) -> dict[str, str]:
    s = services(request)
    module = s.jinja.get_template("lists.html").make_module(
        {"csrf": request.ctx.session.csrf_token, "me": me(request), "texts": s.texts})
    return {
        "waiting": str(module.waiting_list(state["waiting"])),
        "mine": str(module.my_list(state["mine"])),
        "assigned": str(module.assigned_list(state["assigned"])),
        "closed": str(module.closed_list(state["closed"])),
    }


def blueprint() -> Blueprint:
    bp = Blueprint("queue")

    @bp.get("/")
    async def home(request: Request) -> HTTPResponse:
        agent = me(request)
        if not agent.does_casework:
            return render(request, "trainer.html", title="Inicio")
        state = await queue_state(services(request), agent)
        return render(request, "queue.html", state=state, lists=fragments(request, state),
                      title="Cola")

    @bp.get("/api/queue")
    @casework_only
    async def queue_api(request: Request) -> HTTPResponse:
        state = await queue_state(services(request), me(request))
        state["html"] = fragments(request, state)
        return json(state)

    return bp
