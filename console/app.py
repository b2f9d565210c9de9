"""The specialists' console: a small Sanic app over the handoff queue and Rasa's HTTP API."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, html, json, redirect

from console.canned import CannedAnswers
from console.config import Settings
from console.rasa_api import RasaAPI, RasaError
from console.security import DUMMY_HASH, new_token, tokens_equal, verify_password
from console.sessions import SessionStore
from console.transcript import (
    LEVEL_LABELS,
    channel_window_checker,
    mask_id,
    transcript_lines,
    unsafe_to_write,
    window_open,
)
from handoff.priority import EMERGENCY, LABELS
from handoff.queue import AgentView, HandoffQueue, TicketView, utcnow
from triage.levels import TriageMap, load_triage_map

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "console_session"
LOGIN_CSRF_COOKIE = "console_login_csrf"
MAX_REPLY = 4000
MAX_NOTE = 2000
TOUCH_EVERY = timedelta(seconds=15)
LOCAL_TZ = ZoneInfo("America/Santiago")

GOODBYE_TEXT = (
    "Gracias por escribirnos. Desde ahora te acompaña otra vez el asistente automático; "
    "si quieres hablar con una persona, escríbelo cuando quieras. "
    "Si estás en peligro, llama al 133."
)

MESSAGES = {
    "claimed": "Tomaste el caso.",
    "claim_lost": "Otra especialista tomó este caso antes. Elige otro de la cola.",
    "released": "El caso volvió a la cola, en su lugar original.",
    "transferred": "Caso transferido.",
    "reassigned": "Caso reasignado.",
    "closed": "Caso cerrado: la conversación volvió al asistente.",
    "sent": "Mensaje enviado.",
    "note": "Nota guardada.",
    "empty": "El mensaje está vacío.",
    "too_long": "El mensaje es demasiado largo.",
    "window_closed": "No se envió: pasaron más de 24 horas desde su último mensaje.",
    "confirm_unsafe": "No se envió: ella indicó que no es seguro escribirle. "
    "Confirma que revisaste su respuesta antes de enviar.",
    "rasa_down": "No se pudo conectar con el asistente (Rasa). Intenta de nuevo en un momento.",
    "not_allowed": "Ya no tienes este caso.",
    "bad_agent": "Elige una especialista activa.",
}

_app_names = itertools.count(1)


# ------------------------------------------------------------------- helpers
def _waited(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return "menos de 1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d {hours % 24} h"


def _local(value: datetime | str | None) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    local = value.astimezone(LOCAL_TZ)
    today = datetime.now(LOCAL_TZ).date()
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%d/%m %H:%M")


def _alert(ticket: TicketView) -> bool:
    """Emergency a specialist must not miss: waiting at priority 1, or escalated after claim."""
    if ticket.status == "waiting":
        return ticket.priority == EMERGENCY
    return bool(
        ticket.escalated_at and ticket.assigned_at and ticket.escalated_at >= ticket.assigned_at
    )


def ticket_json(ticket: TicketView, position: int | None = None) -> dict[str, Any]:
    now = utcnow()
    waiting = (now - ticket.created_at).total_seconds()
    return {
        "id": ticket.id,
        "who": mask_id(ticket.conversation_id),
        "status": ticket.status,
        "level": ticket.level,
        "level_label": LEVEL_LABELS.get(ticket.level, ticket.level),
        "priority": ticket.priority,
        "priority_label": LABELS.get(ticket.priority, str(ticket.priority)),
        "reason": ticket.reason,
        "position": position,
        "waiting_seconds": int(waiting),
        "waiting_text": _waited(waiting),
        "screening_result": ticket.screening_result,
        "safe_contact": ticket.safe_contact,
        "unsafe": unsafe_to_write(ticket.safe_contact),
        "escalated": ticket.escalated_at is not None,
        "alert": _alert(ticket),
        "agent": ticket.agent_username,
        "created_local": _local(ticket.created_at),
    }


def _screening_answers(ticket: TicketView) -> list[tuple[str, str]]:
    answers = (ticket.screening or {}).get("answers") if ticket.screening else None
    if isinstance(answers, dict):
        return [(str(k).replace("_", " "), str(v)) for k, v in answers.items()]
    if isinstance(answers, list):
        return [(str(i + 1), str(v)) for i, v in enumerate(answers)]
    return []


# ----------------------------------------------------------------------- app
def create_app(
    queue: HandoffQueue | None = None,
    settings: Settings | None = None,
    rasa: RasaAPI | None = None,
    canned: CannedAnswers | None = None,
    rules: TriageMap | None = None,
    window_checker: Callable[[str], Any] | None | str = "auto",
) -> Sanic:
    settings = settings or Settings.from_env()
    queue = queue or HandoffQueue.from_env()
    if rules is None:
        try:
            rules = load_triage_map()
        except Exception:  # noqa: BLE001
            logger.exception("Could not read data/triage.yml; levels come from parse data only.")
            rules = TriageMap(rules={})
    if window_checker == "auto":
        window_checker = channel_window_checker() if settings.use_channel_window else None

    app = Sanic(f"helpline_console_{next(_app_names)}")
    app.config.FALLBACK_ERROR_FORMAT = "text"
    ctx = app.ctx
    ctx.settings = settings
    ctx.queue = queue
    ctx.sessions = SessionStore(queue.engine, settings.secret, settings.session_hours)
    ctx.rasa = rasa or RasaAPI(settings.rasa_url, settings.rasa_token)
    ctx.canned = canned or CannedAnswers()
    ctx.rules = rules
    ctx.window_checker = window_checker
    ctx.jinja = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"])
    )
    ctx.jinja.filters["local"] = _local
    app.static("/static", str(HERE / "static"), name="static")

    def render(request: Request, template: str, status: int = 200, **values: Any) -> HTTPResponse:
        session = getattr(request.ctx, "session", None)
        values.setdefault("me", getattr(request.ctx, "agent", None))
        values.setdefault("csrf", session.csrf_token if session else "")
        values.setdefault("poll_seconds", settings.poll_seconds)
        msg = request.args.get("msg")
        values.setdefault("flash", MESSAGES.get(msg) if msg else None)
        return html(ctx.jinja.get_template(template).render(**values), status=status)

    def form_of(request: Request) -> Any:
        return request.form or {}

    def back(path: str, msg: str) -> HTTPResponse:
        return redirect(f"{path}?msg={msg}", status=303)

    # --------------------------------------------------------- middleware
    @app.on_request
    async def authenticate(request: Request) -> HTTPResponse | None:
        path = request.path
        if path.startswith("/static/") or path in ("/login", "/healthz", "/favicon.ico"):
            return None
        token = request.cookies.get(SESSION_COOKIE)
        session = ctx.sessions.get(token)
        agent = queue.get_agent(session.agent_id) if session else None
        if session is None or agent is None or not agent.active:
            if path.startswith("/api/"):
                return json({"error": "Inicia sesión."}, status=401)
            if request.method != "GET":
                return html("Inicia sesión.", status=401)
            return redirect("/login", status=303)
        request.ctx.session = session
        request.ctx.token = token
        request.ctx.agent = agent
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            sent = request.headers.get("x-csrf-token") or (
                request.form.get("csrf_token") if request.form else None
            )
            if not tokens_equal(sent, session.csrf_token):
                queue.audit("csrf_rejected", agent.id, detail=path[:100])
                return html("Solicitud rechazada (CSRF). Recarga la página.", status=403)
        if agent.last_seen_at is None or utcnow() - agent.last_seen_at > TOUCH_EVERY:
            queue.touch_agent(agent.id)
        return None

    @app.on_response
    async def security_headers(request: Request, response: HTTPResponse) -> None:
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'"
        )
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"

    @app.listener("after_server_stop")
    async def close_clients(app_: Sanic, _loop: Any) -> None:
        await ctx.rasa.close()

    # --------------------------------------------------------------- login
    @app.get("/healthz")
    async def healthz(request: Request) -> HTTPResponse:
        return json({"ok": True})

    @app.get("/favicon.ico")
    async def favicon(request: Request) -> HTTPResponse:
        return HTTPResponse(status=204)

    def login_page(request: Request, error: str | None, status: int) -> HTTPResponse:
        # keep an existing token: other tabs or requests must not invalidate this form
        login_csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
        if not 32 <= len(login_csrf) <= 64:
            login_csrf = new_token()
        response = render(request, "login.html", status=status, error=error,
                          login_csrf=login_csrf, me=None)
        response.cookies[LOGIN_CSRF_COOKIE] = login_csrf
        cookie = response.cookies[LOGIN_CSRF_COOKIE]
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        cookie["path"] = "/login"
        cookie["max-age"] = 3600
        if settings.secure_cookies:
            cookie["secure"] = True
        return response

    @app.get("/login")
    async def login_form(request: Request) -> HTTPResponse:
        if ctx.sessions.get(request.cookies.get(SESSION_COOKIE)):
            return redirect("/", status=303)
        return login_page(request, None, 200)

    @app.post("/login")
    async def login(request: Request) -> HTTPResponse:
        form = form_of(request)
        if not tokens_equal(form.get("csrf_token"), request.cookies.get(LOGIN_CSRF_COOKIE)):
            return login_page(request, "La sesión del formulario expiró. Intenta de nuevo.", 403)
        username = (form.get("username") or "").strip()[:64]
        password = form.get("password") or ""
        ip = request.remote_addr or request.ip or "?"
        agent = queue.agent_by_username(username) if username else None
        agent_id = agent.id if agent else None
        by_user, by_ip = ctx.sessions.failures(username, ip, settings.login_window_minutes)
        if by_user >= settings.login_limit_per_user or by_ip >= settings.login_limit_per_ip:
            queue.audit("login_rate_limited", agent_id, detail="user" if agent_id else "unknown")
            return login_page(request, "Demasiados intentos fallidos. Espera 15 minutos e "
                              "intenta de nuevo, o pide ayuda a tu supervisora.", 429)
        stored = agent.password_hash if agent and agent.active else DUMMY_HASH
        ok = await asyncio.get_running_loop().run_in_executor(
            None, verify_password, password, stored
        )
        if not ok or agent is None or not agent.active:
            ctx.sessions.record_failure(username, ip)
            queue.audit("login_failed", agent_id, detail="user" if agent_id else "unknown")
            return login_page(request, "Usuario o contraseña incorrectos.", 401)
        ctx.sessions.clear_failures(username)
        token, _info = ctx.sessions.create(agent.id)
        queue.audit("login", agent.id)
        queue.touch_agent(agent.id)
        response = redirect("/", status=303)
        response.cookies[SESSION_COOKIE] = token
        cookie = response.cookies[SESSION_COOKIE]
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        cookie["path"] = "/"
        cookie["max-age"] = int(settings.session_hours * 3600)
        if settings.secure_cookies:
            cookie["secure"] = True
        del response.cookies[LOGIN_CSRF_COOKIE]
        return response

    @app.post("/logout")
    async def logout(request: Request) -> HTTPResponse:
        ctx.sessions.delete(request.ctx.token)
        queue.audit("logout", request.ctx.agent.id)
        response = redirect("/login", status=303)
        del response.cookies[SESSION_COOKIE]
        return response

    # --------------------------------------------------------------- queue
    def queue_state(agent: AgentView) -> dict[str, Any]:
        waiting = [ticket_json(t, i + 1) for i, t in enumerate(queue.list_waiting())]
        mine = [ticket_json(t) for t in queue.list_for_agent(agent.id)]
        assigned = [ticket_json(t) for t in queue.list_assigned()] if agent.is_supervisor else []
        alerts = [t for t in waiting if t["alert"]] + [t for t in mine if t["alert"]]
        return {
            "me": {"id": agent.id, "username": agent.username, "role": agent.role},
            "online_agents": queue.online_agents(),
            "waiting": waiting,
            "mine": mine,
            "assigned": assigned,
            "alerts": [{"id": t["id"], "status": t["status"]} for t in alerts],
        }

    def fragments(request: Request, state: dict[str, Any]) -> dict[str, str]:
        template = ctx.jinja.get_template("lists.html")
        module = template.make_module({"csrf": request.ctx.session.csrf_token,
                                       "me": request.ctx.agent})
        return {
            "waiting": str(module.waiting_list(state["waiting"])),
            "mine": str(module.my_list(state["mine"])),
            "assigned": str(module.assigned_list(state["assigned"])),
        }

    @app.get("/")
    async def queue_page(request: Request) -> HTTPResponse:
        state = queue_state(request.ctx.agent)
        return render(request, "queue.html", state=state, lists=fragments(request, state),
                      title="Cola")

    @app.get("/api/queue")
    async def queue_api(request: Request) -> HTTPResponse:
        state = queue_state(request.ctx.agent)
        state["html"] = fragments(request, state)
        return json(state)

    # -------------------------------------------------------- conversation
    def held(request: Request, ticket_id: int) -> TicketView | None:
        """The ticket if this agent may work on it (holder, or any supervisor)."""
        ticket = queue.get(ticket_id)
        agent: AgentView = request.ctx.agent
        if ticket is None:
            return None
        if ticket.agent_id == agent.id and ticket.status == "assigned":
            return ticket
        if agent.is_supervisor:
            return ticket
        return None

    async def conversation_state(ticket: TicketView) -> dict[str, Any]:
        try:
            tracker = await ctx.rasa.tracker(ticket.conversation_id)
        except RasaError as error:
            logger.error("Could not load tracker for ticket %s: %s", ticket.id, error)
            return {"lines": [], "rasa_error": True, "window_open": None}
        lines = [line.as_dict() for line in transcript_lines(tracker, ctx.rules)]
        for line in lines:
            line["time"] = _local(line["at"]) if line["at"] else ""
        is_open = await window_open(ticket.conversation_id, tracker, ctx.window_checker)
        return {"lines": lines, "rasa_error": False, "window_open": is_open}

    @app.get("/tickets/<ticket_id:int>")
    async def conversation_page(request: Request, ticket_id: int) -> HTTPResponse:
        ticket = held(request, ticket_id)
        if ticket is None:
            return back("/", "not_allowed")
        agent: AgentView = request.ctx.agent
        queue.audit("conversation_viewed", agent.id, ticket.id)
        conv = await conversation_state(ticket)
        others = [a for a in queue.list_agents() if a.id != agent.id]
        online_since = utcnow() - timedelta(seconds=120)
        return render(
            request, "conversation.html", title=f"Caso {ticket.id}",
            ticket=ticket, t=ticket_json(ticket), conv=conv, notes=queue.notes(ticket.id),
            answers=_screening_answers(ticket), canned=ctx.canned.all(),
            agents=[(a, bool(a.last_seen_at and a.last_seen_at >= online_since))
                    for a in others],
        )

    @app.get("/api/tickets/<ticket_id:int>")
    async def conversation_api(request: Request, ticket_id: int) -> HTTPResponse:
        ticket = held(request, ticket_id)
        if ticket is None:
            return json({"error": MESSAGES["not_allowed"], "status": "gone"}, status=404)
        conv = await conversation_state(ticket)
        module = ctx.jinja.get_template("lists.html").make_module({"csrf": "", "me": None})
        conv["html"] = str(module.transcript(conv["lines"], conv["rasa_error"]))
        conv["ticket"] = ticket_json(ticket)
        return json(conv)

    @app.post("/tickets/<ticket_id:int>/claim")
    async def claim(request: Request, ticket_id: int) -> HTTPResponse:
        ticket = queue.claim(ticket_id, request.ctx.agent.id)
        if ticket is None:
            return back("/", "claim_lost")
        # An emergency ticket is opened before the bot's questions, unpaused: once a
        # specialist has the case the bot must not talk over her.
        try:
            if not (await ctx.rasa.tracker(ticket.conversation_id)).get("paused"):
                await ctx.rasa.pause(ticket.conversation_id)
                queue.audit("conversation_paused", request.ctx.agent.id, ticket.id)
        except RasaError as error:
            logger.error("Pausing the bot for ticket %s failed: %s", ticket.id, error)
            queue.audit("pause_failed", request.ctx.agent.id, ticket.id, str(error)[:100])
        return back(f"/tickets/{ticket_id}", "claimed")

    @app.post("/tickets/<ticket_id:int>/release")
    async def release(request: Request, ticket_id: int) -> HTTPResponse:
        if queue.release(ticket_id, request.ctx.agent.id) is None:
            return back("/", "not_allowed")
        return back("/", "released")

    @app.post("/tickets/<ticket_id:int>/transfer")
    async def transfer(request: Request, ticket_id: int) -> HTTPResponse:
        try:
            to_agent = int(form_of(request).get("to_agent") or 0)
        except ValueError:
            to_agent = 0
        agent: AgentView = request.ctx.agent
        ticket = queue.get(ticket_id)
        if agent.is_supervisor and ticket and ticket.agent_id != agent.id:
            result = queue.reassign(ticket_id, agent.id, to_agent)
            msg = "reassigned"
        else:
            result = queue.transfer(ticket_id, agent.id, to_agent)
            msg = "transferred"
        if result is None:
            return back(f"/tickets/{ticket_id}" if ticket else "/", "bad_agent")
        return back("/", msg)

    @app.post("/tickets/<ticket_id:int>/reply")
    async def reply(request: Request, ticket_id: int) -> HTTPResponse:
        ticket = queue.get(ticket_id)
        agent: AgentView = request.ctx.agent
        if ticket is None or ticket.status != "assigned" or ticket.agent_id != agent.id:
            return back("/", "not_allowed")
        here = f"/tickets/{ticket_id}"
        form = form_of(request)
        text = (form.get("text") or "").strip()
        canned_id = (form.get("canned") or "").strip()
        if not text and canned_id:
            chosen = ctx.canned.get(canned_id)
            text = chosen.text if chosen else ""
        if not text:
            return back(here, "empty")
        if len(text) > MAX_REPLY:
            return back(here, "too_long")
        if unsafe_to_write(ticket.safe_contact) and form.get("confirm_unsafe") != "1":
            return back(here, "confirm_unsafe")
        try:
            tracker = await ctx.rasa.tracker(ticket.conversation_id)
            if await window_open(ticket.conversation_id, tracker, ctx.window_checker) is False:
                queue.audit("reply_refused", agent.id, ticket.id, "window_closed")
                return back(here, "window_closed")
            await ctx.rasa.send_bot_message(
                ticket.conversation_id, text, settings.output_channel,
                {"source": "console", "agent": agent.username},
            )
        except RasaError as error:
            logger.error("Reply for ticket %s failed: %s", ticket.id, error)
            queue.audit("reply_failed", agent.id, ticket.id, str(error)[:100])
            return back(here, "rasa_down")
        detail = f"canned={canned_id}" if canned_id and not form.get("text") else f"chars={len(text)}"
        queue.audit("reply_sent", agent.id, ticket.id, detail)
        return back(here, "sent")

    @app.post("/tickets/<ticket_id:int>/notes")
    async def add_note(request: Request, ticket_id: int) -> HTTPResponse:
        ticket = held(request, ticket_id)
        if ticket is None:
            return back("/", "not_allowed")
        text = (form_of(request).get("text") or "").strip()
        if not text:
            return back(f"/tickets/{ticket_id}", "empty")
        queue.add_note(ticket_id, request.ctx.agent.id, text[:MAX_NOTE])
        return back(f"/tickets/{ticket_id}", "note")

    @app.post("/tickets/<ticket_id:int>/close")
    async def close(request: Request, ticket_id: int) -> HTTPResponse:
        ticket = held(request, ticket_id)
        agent: AgentView = request.ctx.agent
        if ticket is None or ticket.status == "closed":
            return back("/", "not_allowed")
        here = f"/tickets/{ticket_id}"
        try:
            tracker = await ctx.rasa.tracker(ticket.conversation_id)
            if form_of(request).get("send_goodbye") == "1":
                if await window_open(ticket.conversation_id, tracker,
                                     ctx.window_checker) is not False:
                    await ctx.rasa.send_bot_message(
                        ticket.conversation_id, GOODBYE_TEXT, settings.output_channel,
                        {"source": "console", "agent": agent.username},
                    )
                    queue.audit("goodbye_sent", agent.id, ticket.id)
            # a form she left unanswered must not come back after the bot's next answer
            await ctx.rasa.resume(ticket.conversation_id,
                                  end_form=bool((tracker.get("active_loop") or {}).get("name")))
        except RasaError as error:
            logger.error("Closing ticket %s failed: %s", ticket.id, error)
            queue.audit("close_failed", agent.id, ticket.id, str(error)[:100])
            return back(here, "rasa_down")
        queue.audit("conversation_resumed", agent.id, ticket.id)
        if queue.close(ticket_id, agent.id) is None:
            return back("/", "not_allowed")
        return back("/", "closed")

    # --------------------------------------------------------------- audit
    @app.get("/audit")
    async def audit_page(request: Request) -> HTTPResponse:
        agent: AgentView = request.ctx.agent
        if not agent.is_supervisor:
            return html("Solo para supervisoras.", status=403)
        names = {a.id: a.username for a in queue.list_agents(active_only=False)}
        return render(request, "audit.html", title="Auditoría",
                      entries=queue.audit_entries(limit=300), names=names)

    return app
