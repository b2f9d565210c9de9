"""Accounts (supervisors): create, reset with a one-time code, deactivate, activate."""

from __future__ import annotations

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from console.accounts import ROLES_A_SUPERVISOR_CREATES, AccountResult
from console.web import back, form, me, render, services, supervisors_only
from handoff.base import utcnow


async def _page(request: Request, result: AccountResult | None = None,
                status: int = 200) -> HTTPResponse:
    s = services(request)
    agents = await s.queue.list_agents(active_only=False)
    loads = await s.queue.loads()
    now = utcnow()
    window = s.settings.login_window_minutes
    rows = [{"agent": a, "online": a.online(now), "open": loads.get(a.id).open
             if a.id in loads else 0, "role_label": s.texts.get("roles", a.role),
             "pending_code": await s.accounts.has_code(a.id),
             "failures": (await s.sessions.failures(a.username, "", window))[0].count}
            for a in agents]
    flash = s.texts.message(result.message) if result else None
    return render(request, "accounts.html", status=status, title="Cuentas", rows=rows,
                  result=result, flash=flash,
                  roles=[(r.value, s.texts.get("roles", r)) for r in ROLES_A_SUPERVISOR_CREATES])


def blueprint() -> Blueprint:
    bp = Blueprint("accounts")

    @bp.get("/accounts")
    @supervisors_only
    async def accounts_page(request: Request) -> HTTPResponse:
        return await _page(request)

    # The one-time code is shown in the answer to the POST itself (never in a URL, never
    # again): no redirect here.
    @bp.post("/accounts")
    @supervisors_only
    async def create(request: Request) -> HTTPResponse:
        data = form(request)
        result = await services(request).accounts.create(
            me(request), data.get("username") or "", data.get("role") or "")
        return await _page(request, result, 200 if result.ok else 400)

    @bp.post("/accounts/<agent_id:int>/reset")
    @supervisors_only
    async def reset(request: Request, agent_id: int) -> HTTPResponse:
        result = await services(request).accounts.reset(me(request), agent_id)
        return await _page(request, result, 200 if result.ok else 400)

    @bp.post("/accounts/<agent_id:int>/clear-failures")
    @supervisors_only
    async def clear_failures(request: Request, agent_id: int) -> HTTPResponse:
        result = await services(request).accounts.clear_failures(me(request), agent_id)
        return back("/accounts", result.message)

    @bp.post("/accounts/<agent_id:int>/deactivate")
    @supervisors_only
    async def deactivate(request: Request, agent_id: int) -> HTTPResponse:
        result = await services(request).accounts.set_active(me(request), agent_id, False)
        return back("/accounts", result.message)

    @bp.post("/accounts/<agent_id:int>/activate")
    @supervisors_only
    async def activate(request: Request, agent_id: int) -> HTTPResponse:
        result = await services(request).accounts.set_active(me(request), agent_id, True)
        return back("/accounts", result.message)

    return bp
