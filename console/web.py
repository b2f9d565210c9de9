"""What every console request shares: the services, login check, CSRF, roles, rendering."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from jinja2 import Environment
from sanic.request import Request
from sanic.response import HTTPResponse, html, json, redirect

from console.accounts import Accounts
from console.canned import CannedAnswers
from console.casework import Casework
from console.client import ClientResolver
from console.closed_reading import ClosedReadings
from console.config import Settings
from console.offload import InThreads
from console.security import tokens_equal
from console.sessions import SessionStore
from console.texts import Texts
from console.totp import TotpState, TotpStore
from console.views import TicketPresenter
from handoff.agents import AgentView
from handoff.base import utcnow
from handoff.queue import HandoffQueue
from handoff.rasa_api import RasaAPI
from handoff.stats import StatsStore

SESSION_COOKIE = "console_session"
LOGIN_CSRF_COOKIE = "console_login_csrf"
TOUCH_EVERY = timedelta(seconds=15)
PUBLIC_PATHS = ("/login", "/healthz", "/favicon.ico")
PASSWORD_PAGE = "/account/password"
# reachable while she must still choose a password (after logging in with a one-time code)
PASSWORD_PATHS = (PASSWORD_PAGE, "/logout")
TOTP_PAGE = "/account/totp"
# reachable while a supervisor must still enrol her second factor
TOTP_PATHS = (TOTP_PAGE, PASSWORD_PAGE, "/logout")


@dataclass
class Services:
    settings: Settings
    queue: InThreads[HandoffQueue]
    sessions: InThreads[SessionStore]
    accounts: InThreads[Accounts]
    stats: InThreads[StatsStore]
    casework: Casework
    canned: CannedAnswers
    texts: Texts
    jinja: Environment
    present: TicketPresenter
    rasa: RasaAPI
    pool: ThreadPoolExecutor
    label: Callable[[int], str]
    client: ClientResolver
    readings: ClosedReadings
    totp: InThreads[TotpStore]


def services(request: Request) -> Services:
    return request.app.ctx.services


def client_address(request: Request) -> str:
    return services(request).client.address(request)


def cookies_secure(request: Request) -> bool:
    """Secure cookies when configured, or when this request came over HTTPS."""
    s = services(request)
    return s.settings.secure_cookies or s.client.is_https(request)


def me(request: Request) -> AgentView:
    return request.ctx.agent


def form(request: Request) -> Any:
    return request.form or {}


def back(path: str, msg: str, code: int | None = None) -> HTTPResponse:
    """Redirect after a POST; ``msg`` (a key of «mensajes») stays the last parameter."""
    extra = f"code={code}&" if code is not None else ""
    return redirect(f"{path}?{extra}msg={msg}", status=303)


def flash_of(request: Request, texts: Texts) -> str | None:
    msg = request.args.get("msg")
    if not msg:
        return None
    text = texts.message(msg) or ""
    if msg == "not_sent":  # «No se envió. <what WhatsApp's answer means>»
        code = request.args.get("code") or ""
        meaning = texts.whatsapp_error(int(code) if code.isdigit() else None)
        text = f"{text.rstrip('.:')}. {meaning}"
    return text


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTTPResponse:
    s = services(request)
    session = getattr(request.ctx, "session", None)
    values.setdefault("me", getattr(request.ctx, "agent", None))
    values.setdefault("csrf", session.csrf_token if session else "")
    values.setdefault("poll_seconds", s.settings.poll_seconds)
    values.setdefault("flash", flash_of(request, s.texts))
    values.setdefault("texts", s.texts)
    values.setdefault("label", s.label)
    return html(s.jinja.get_template(template).render(**values), status=status)


def forbidden(request: Request) -> HTTPResponse:
    if request.path.startswith("/api/"):
        return json({"error": services(request).texts.message("not_your_role")}, status=403)
    return render(request, "forbidden.html", status=403, title="Sin acceso")


def require(check: Callable[[AgentView], bool]) -> Callable[..., Any]:
    """Route guard on the logged-in agent's role."""
    def decorator(handler: Callable[..., Awaitable[HTTPResponse]]) -> Callable[..., Any]:
        @functools.wraps(handler)
        async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            if not check(me(request)):
                return forbidden(request)
            return await handler(request, *args, **kwargs)
        return guarded
    return decorator


casework_only = require(lambda agent: agent.does_casework)
supervisors_only = require(lambda agent: agent.is_supervisor)


def _unauthenticated(request: Request, had_cookie: bool) -> HTTPResponse:
    if request.path.startswith("/api/"):
        return json({"error": "Inicia sesión."}, status=401)
    if request.method != "GET":
        return html("Inicia sesión.", status=401)
    return back("/login", "session_ended") if had_cookie else redirect("/login", status=303)


async def _must_enrol(request: Request, agent: AgentView) -> bool:
    s = services(request)
    if not (s.settings.totp_supervisors and agent.is_supervisor) or request.path in TOTP_PATHS:
        return False
    return await s.totp.state(agent.id) is not TotpState.ACTIVE


async def authenticate(request: Request) -> HTTPResponse | None:
    """Session cookie → agent; CSRF on every POST; a new password first if she must."""
    path = request.path
    if path.startswith("/static/") or path in PUBLIC_PATHS:
        return None
    s = services(request)
    token = request.cookies.get(SESSION_COOKIE)
    # her activity renews the idle timeout; the pages' own polling does not
    session = await s.sessions.get(token, renew=request.method != "GET"
                                   or not path.startswith("/api/"))
    agent = await s.queue.get_agent(session.agent_id) if session else None
    if session is None or agent is None or not agent.active:
        return _unauthenticated(request, bool(token))
    request.ctx.session, request.ctx.token, request.ctx.agent = session, token, agent
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        sent = request.headers.get("x-csrf-token") or (
            request.form.get("csrf_token") if request.form else None)
        if not tokens_equal(sent, session.csrf_token):
            await s.queue.audit("csrf_rejected", agent.id, detail=path[:100])
            return html("Solicitud rechazada (CSRF). Recarga la página.", status=403)
    if agent.must_change_password and path not in PASSWORD_PATHS:
        if path.startswith("/api/"):
            return json({"error": s.texts.message("password_must_change")}, status=403)
        return back(PASSWORD_PAGE, "password_must_change")
    if await _must_enrol(request, agent):
        if path.startswith("/api/"):
            return json({"error": s.texts.message("totp_required")}, status=403)
        return back(TOTP_PAGE, "totp_required")
    if agent.last_seen_at is None or utcnow() - agent.last_seen_at > TOUCH_EVERY:
        await s.queue.touch_agent(agent.id)
    return None


async def security_headers(request: Request, response: HTTPResponse) -> None:
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "media-src 'self'; frame-ancestors 'none'; form-action 'self'"
    )
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"


def set_cookie(response: HTTPResponse, name: str, value: str, path: str, max_age: int,
               secure: bool) -> None:
    response.cookies[name] = value
    cookie = response.cookies[name]
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["path"] = path
    cookie["max-age"] = max_age
    if secure:
        cookie["secure"] = True
