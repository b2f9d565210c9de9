"""The supervisor's live view (``/supervision``), assignment from it, and the audit page."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, json

from console.supervision import live_view
from console.views import audit_rows
from console.web import Services, back, form, me, render, services, supervisors_only
from handoff.base import utcnow


async def view_state(s: Services) -> dict[str, Any]:
    return live_view(
        await s.queue.list_waiting(), await s.queue.list_assigned(),
        await s.queue.list_agents(), await s.queue.loads(), s.present, utcnow(),
        s.settings.cases_per_specialist)


def _fragments(request: Request, state: dict[str, Any]) -> dict[str, str]:
    s = services(request)
    module = s.jinja.get_template("supervision_parts.html").make_module(
        {"csrf": request.ctx.session.csrf_token, "texts": s.texts})
    return {"summary": str(module.summary(state)), "staff": str(module.staff(state)),
            "cases": str(module.cases(state))}


def blueprint() -> Blueprint:
    bp = Blueprint("supervision")

    @bp.get("/supervision")
    @supervisors_only
    async def page(request: Request) -> HTTPResponse:
        s = services(request)
        state = await view_state(s)
        return render(request, "supervision.html", title="Supervisión", state=state,
                      parts=_fragments(request, state), sla=s.settings.sla,
                      auto_assign=s.settings.auto_assign)

    @bp.get("/api/supervision")
    @supervisors_only
    async def api(request: Request) -> HTTPResponse:
        state = await view_state(services(request))
        state["html"] = _fragments(request, state)
        return json(state)

    @bp.post("/supervision/tickets/<ticket_id:int>/assign")
    @supervisors_only
    async def assign(request: Request, ticket_id: int) -> HTTPResponse:
        try:
            to_agent = int(form(request).get("to_agent") or 0)
        except ValueError:
            to_agent = 0
        result = await services(request).casework.assign(ticket_id, to_agent, me(request))
        return back("/supervision", result.message)

    @bp.get("/audit")
    @supervisors_only
    async def audit_page(request: Request) -> HTTPResponse:
        s = services(request)
        names = {a.id: a.username for a in await s.queue.list_agents(active_only=False)}
        entries = await s.queue.audit_entries(limit=300)
        return render(request, "audit.html", title="Auditoría",
                      rows=audit_rows(entries, names, s.texts, s.label))

    return bp
