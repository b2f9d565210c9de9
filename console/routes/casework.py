"""A conversation: read it, take it, answer, note, give it back or on, close, follow up.

The routes only translate forms into calls of ``console.casework.Casework``, where the order
of the steps and their compensation live.
"""

from __future__ import annotations

from typing import Any

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, json

from console.casework import CaseReading, may_read, may_work
from console.closed_reading import clean_reason
from console.web import back, casework_only, form, me, render, services
from handoff.base import utcnow
from handoff.queue import FORGOTTEN, TicketView
from handoff.states import Outcome, TicketStatus


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _answers(ticket: TicketView) -> list[tuple[str, str]]:
    answers = (ticket.screening or {}).get("answers") if ticket.screening else None
    if isinstance(answers, dict):
        return [(str(k).replace("_", " "), str(v)) for k, v in answers.items()]
    if isinstance(answers, list):
        return [(str(i + 1), str(v)) for i, v in enumerate(answers)]
    return []


def _reading_json(request: Request, ticket: TicketView, reading: CaseReading) -> dict[str, Any]:
    s = services(request)
    module = s.jinja.get_template("lists.html").make_module(
        {"csrf": "", "me": None, "texts": s.texts})
    lines = [line.as_dict() for line in reading.lines]
    contact = reading.contact
    return {
        "lines": lines,
        "rasa_error": reading.rasa_error,
        "window_open": contact.facts.window_open if contact else None,
        "html": str(module.transcript(lines, reading.rasa_error)),
        "contact_html": str(module.contact_box(contact, s.texts)) if contact else "",
        "ticket": s.present(ticket, utcnow()),
    }


def _closed_reason(request: Request, ticket: TicketView | None) -> str | None:
    """The reason given in this session to read this closed case (renewed), if any."""
    if ticket is None or ticket.status is not TicketStatus.CLOSED:
        return None
    return services(request).readings.reason(request.ctx.token, ticket.id, renew=True)


def _reason_form(request: Request, ticket_id: int, error: str | None = None,
                 reason: str = "", status: int = 200) -> HTTPResponse:
    return render(request, "closed_reason.html", status=status, title="Caso cerrado",
                  ticket_id=ticket_id, error=error, reason=reason)


def blueprint() -> Blueprint:
    bp = Blueprint("casework")

    @bp.get("/tickets/<ticket_id:int>")
    @casework_only
    async def conversation_page(request: Request, ticket_id: int) -> HTTPResponse:
        s, agent = services(request), me(request)
        found = await s.queue.get(ticket_id)
        reason = _closed_reason(request, found)
        if found and found.status is TicketStatus.CLOSED and may_read(found, agent) \
                and reason is None:
            return _reason_form(request, ticket_id)
        ticket = await s.casework.open_for_reading(ticket_id, agent, reason)
        if ticket is None:
            return back("/", "not_allowed")
        reading = await s.casework.read(ticket)
        agents = [a for a in await s.queue.list_agents() if a.id != agent.id and a.does_casework]
        now = utcnow()
        return render(
            request, "conversation.html", title=f"Caso {s.label(ticket.id)}",
            ticket=ticket, t=s.present(ticket, now), reading=reading,
            lines=[line.as_dict() for line in reading.lines], contact=reading.contact,
            notes=await s.queue.notes(ticket.id), answers=_answers(ticket),
            canned=s.canned.all(), agents=[(a, a.online(now)) for a in agents],
            can_work=may_work(ticket, agent), holder=ticket.held_by(agent.id),
            erasable=agent.is_supervisor and not ticket.conversation_id.startswith(FORGOTTEN),
            outcomes=[(o.value, s.texts.get("resultados", o)) for o in Outcome],
            tags=list(s.texts.section("etiquetas").items()),
        )

    @bp.get("/api/tickets/<ticket_id:int>")
    @casework_only
    async def conversation_api(request: Request, ticket_id: int) -> HTTPResponse:
        s, agent = services(request), me(request)
        ticket = await s.queue.get(ticket_id)
        if ticket is None or not may_read(ticket, agent):
            return json({"error": s.texts.message("not_allowed"), "status": "gone"}, status=404)
        if ticket.status is TicketStatus.CLOSED and _closed_reason(request, ticket) is None:
            return json({"error": s.texts.message("reason_needed"), "status": "reason"},
                        status=403)
        return json(_reading_json(request, ticket, await s.casework.read(ticket)))

    @bp.post("/tickets/<ticket_id:int>/read-closed")
    @casework_only
    async def read_closed(request: Request, ticket_id: int) -> HTTPResponse:
        s, agent = services(request), me(request)
        ticket = await s.queue.get(ticket_id)
        if ticket is None or not may_read(ticket, agent):
            return back("/", "not_allowed")
        if ticket.status is not TicketStatus.CLOSED:
            return back(f"/tickets/{ticket_id}", "reason_not_needed")
        raw = str(form(request).get("reason") or "")
        reason, problem = clean_reason(raw)
        if problem is not None:
            return _reason_form(request, ticket_id, s.texts.message(problem.value),
                                raw[:400], status=400)
        s.readings.grant(request.ctx.token, ticket_id, reason)
        return back(f"/tickets/{ticket_id}", "reason_given")

    @bp.post("/tickets/<ticket_id:int>/claim")
    @casework_only
    async def claim(request: Request, ticket_id: int) -> HTTPResponse:
        result = await services(request).casework.claim(ticket_id, me(request))
        return back(f"/tickets/{ticket_id}" if result.ok else "/", result.message)

    @bp.post("/tickets/<ticket_id:int>/release")
    @casework_only
    async def release(request: Request, ticket_id: int) -> HTTPResponse:
        result = await services(request).casework.release(ticket_id, me(request))
        return back("/", result.message)

    @bp.post("/tickets/<ticket_id:int>/transfer")
    @casework_only
    async def transfer(request: Request, ticket_id: int) -> HTTPResponse:
        result = await services(request).casework.transfer(
            ticket_id, me(request), _int(form(request).get("to_agent")))
        if result.ok:
            return back("/", result.message)
        return back(f"/tickets/{ticket_id}" if result.ticket else "/", result.message)

    @bp.post("/tickets/<ticket_id:int>/reply")
    @casework_only
    async def reply(request: Request, ticket_id: int) -> HTTPResponse:
        s, data = services(request), form(request)
        canned_id = (data.get("canned") or "").strip()
        result = await s.casework.reply(
            ticket_id, me(request), data.get("text") or "",
            s.canned.get(canned_id) if canned_id else None,
            confirm_unsafe=data.get("confirm_unsafe") == "1")
        if result.ticket is None:
            return back("/", result.message)
        return back(f"/tickets/{ticket_id}", result.message, result.code)

    @bp.post("/tickets/<ticket_id:int>/notes")
    @casework_only
    async def add_note(request: Request, ticket_id: int) -> HTTPResponse:
        result = await services(request).casework.add_note(
            ticket_id, me(request), form(request).get("text") or "")
        return back(f"/tickets/{ticket_id}" if result.ticket else "/", result.message)

    @bp.post("/tickets/<ticket_id:int>/close")
    @casework_only
    async def close(request: Request, ticket_id: int) -> HTTPResponse:
        data = form(request)
        result = await services(request).casework.close(
            ticket_id, me(request), data.get("outcome"), data.getlist("tags") or [],
            send_goodbye=data.get("send_goodbye") == "1")
        if result.ok:
            return back("/", result.message)
        return back(f"/tickets/{ticket_id}" if result.ticket else "/", result.message)

    @bp.post("/tickets/<ticket_id:int>/erase")
    @casework_only
    async def erase(request: Request, ticket_id: int) -> HTTPResponse:
        result = await services(request).casework.erase(
            ticket_id, me(request), confirmed=form(request).get("confirm") == "1")
        if result.ok:
            return back("/", result.message)
        return back(f"/tickets/{ticket_id}" if result.ticket else "/", result.message)

    @bp.post("/tickets/<ticket_id:int>/follow-up")
    @casework_only
    async def follow_up(request: Request, ticket_id: int) -> HTTPResponse:
        result = await services(request).casework.follow_up(ticket_id, me(request))
        return back(f"/tickets/{ticket_id}" if result.ticket else "/", result.message,
                    result.code)

    return bp
