"""Login (password or one-time code), logout, and changing one's own password."""

from __future__ import annotations

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, json, redirect

from console.security import new_token, tokens_equal
from console.totp import TotpState
from console.web import (
    LOGIN_CSRF_COOKIE,
    PASSWORD_PAGE,
    SESSION_COOKIE,
    back,
    client_address,
    cookies_secure,
    form,
    me,
    render,
    services,
    set_cookie,
)


def _login_page(request: Request, error: str | None, status: int) -> HTTPResponse:
    # keep an existing token: other tabs or requests must not invalidate this form
    login_csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not 32 <= len(login_csrf) <= 64:
        login_csrf = new_token()
    response = render(request, "login.html", status=status, error=error,
                      login_csrf=login_csrf, me=None, title="Ingresar")
    set_cookie(response, LOGIN_CSRF_COOKIE, login_csrf, "/login", 3600, cookies_secure(request))
    return response


async def _has_totp(request: Request, agent_id: int) -> bool:
    return await services(request).totp.state(agent_id) is TotpState.ACTIVE


async def _second_factor_fails(request: Request, agent_id: int) -> bool:
    """She enrolled a second factor and the login form's code is not a fresh one of it."""
    if not await _has_totp(request, agent_id):
        return False
    return not await services(request).totp.check(agent_id, form(request).get("code"))


def _too_soon(request: Request, wait: int) -> HTTPResponse:
    text = services(request).texts.message("login_wait") or ""
    response = _login_page(request, text.replace("{segundos}", str(wait)), 429)
    response.headers["Retry-After"] = str(wait)
    return response


def blueprint() -> Blueprint:
    bp = Blueprint("auth")

    @bp.get("/healthz")
    async def healthz(request: Request) -> HTTPResponse:
        return json({"ok": True})

    @bp.get("/favicon.ico")
    async def favicon(request: Request) -> HTTPResponse:
        return HTTPResponse(status=204)

    @bp.get("/login")
    async def login_form(request: Request) -> HTTPResponse:
        if await services(request).sessions.get(request.cookies.get(SESSION_COOKIE)):
            return redirect("/", status=303)
        return _login_page(request, None, 200)

    @bp.post("/login")
    async def login(request: Request) -> HTTPResponse:
        s = services(request)
        data = form(request)
        if not tokens_equal(data.get("csrf_token"), request.cookies.get(LOGIN_CSRF_COOKIE)):
            return _login_page(request, s.texts.message("login_form_expired"), 403)
        username = (data.get("username") or "").strip()[:64]
        ip = client_address(request)
        known = await s.queue.agent_by_username(username) if username else None
        agent_id = known.id if known else None
        who = "user" if agent_id else "unknown"
        account, address = await s.sessions.failures(username, ip,
                                                     s.settings.login_window_minutes)
        wait = s.settings.delays.wait_seconds(account, address, await s.sessions.now())
        if wait:
            await s.queue.audit("login_rate_limited", agent_id, detail=who)
            return _too_soon(request, wait)
        check = await s.accounts.check_login(username, data.get("password") or "")
        second = check.agent is not None and await _second_factor_fails(request, check.agent.id)
        if check.agent is None or second:
            await s.sessions.record_failure(username, ip)
            await s.queue.audit("login_failed", agent_id, detail="second factor" if second
                                else who)
            return _login_page(request, s.texts.message("login_failed"), 401)
        agent = check.agent
        await s.sessions.clear_failures(username)
        token, _info = await s.sessions.create(agent.id)
        await s.queue.audit("login", agent.id, detail="one-time code" if check.with_code
                            else "second factor" if await _has_totp(request, agent.id) else None)
        await s.queue.touch_agent(agent.id)
        response = redirect(PASSWORD_PAGE if agent.must_change_password else "/", status=303)
        set_cookie(response, SESSION_COOKIE, token, "/", int(s.settings.session_hours * 3600),
                   cookies_secure(request))
        del response.cookies[LOGIN_CSRF_COOKIE]
        return response

    @bp.post("/logout")
    async def logout(request: Request) -> HTTPResponse:
        s = services(request)
        await s.sessions.delete(request.ctx.token)
        await s.queue.audit("logout", me(request).id)
        response = redirect("/login", status=303)
        del response.cookies[SESSION_COOKIE]
        return response

    @bp.get(PASSWORD_PAGE)
    async def password_form(request: Request) -> HTTPResponse:
        return render(request, "password.html", title="Mi contraseña")

    @bp.post(PASSWORD_PAGE)
    async def change_password(request: Request) -> HTTPResponse:
        data = form(request)
        result = await services(request).accounts.change_own(
            me(request), data.get("current") or "", data.get("new") or "",
            data.get("repeat") or "", request.ctx.token)
        if not result.ok:
            return back(PASSWORD_PAGE, result.message)
        return back("/", result.message)

    return bp
