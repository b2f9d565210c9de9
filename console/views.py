"""How tickets, times and audit lines look in the console (HTML and the polling JSON)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from console.contact import unsafe_to_write
from console.texts import Texts
from handoff.priority import EMERGENCY
from handoff.queue import TicketView
from handoff.sla import SlaPolicy
from handoff.states import TicketStatus

LOCAL_TZ = ZoneInfo("America/Santiago")


def waited(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return "menos de 1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d {hours % 24} h"


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def local_time(value: datetime | str | None) -> str:
    """«14:05» today, «03/12 14:05» another day (Chile's time)."""
    if not value:
        return ""
    moment = _aware(value).astimezone(LOCAL_TZ)
    today = datetime.now(LOCAL_TZ).date()
    return moment.strftime("%H:%M") if moment.date() == today else moment.strftime("%d/%m %H:%M")


def local_datetime(value: datetime | str | None) -> str:
    """«03/12/2026 14:05:09» (the audit page)."""
    if not value:
        return ""
    return _aware(value).astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M:%S")


def epoch_ms(value: datetime | None) -> int | None:
    return int(_aware(value).timestamp() * 1000) if value else None


def alert(ticket: TicketView) -> bool:
    """Emergency a specialist must not miss: waiting at priority 1, or escalated after claim."""
    if ticket.status is TicketStatus.WAITING:
        return ticket.priority == EMERGENCY
    return bool(ticket.escalated_at and ticket.assigned_at
                and ticket.escalated_at >= ticket.assigned_at)


class TicketPresenter:
    def __init__(self, texts: Texts, label: Callable[[int], str], sla: SlaPolicy) -> None:
        self.texts = texts
        self.label = label
        self.sla = sla

    def __call__(self, ticket: TicketView, now: datetime, position: int | None = None
                 ) -> dict[str, Any]:
        waiting = (now - ticket.created_at).total_seconds()
        breach_at = self.sla.breach_at(ticket)
        return {
            "id": ticket.id,
            "label": self.label(ticket.id),
            "status": ticket.status.value,
            "status_label": self.texts.get("estados", ticket.status),
            "level": ticket.level,
            "level_label": self.texts.get("niveles", ticket.level),
            "priority": int(ticket.priority),
            "priority_label": self.texts.get("prioridades", int(ticket.priority)),
            "reason": ticket.reason,
            "position": position,
            "waiting_seconds": int(waiting),
            "waiting_text": waited(waiting),
            "screening_result": ticket.screening_result,
            "safe_contact": ticket.safe_contact,
            "unsafe": unsafe_to_write(ticket.safe_contact),
            "escalated": ticket.escalated_at is not None,
            "alert": alert(ticket),
            "agent": ticket.agent_username,
            "agent_id": ticket.agent_id,
            "created_local": local_time(ticket.created_at),
            "breach_at": epoch_ms(breach_at),
            "breached": breach_at is not None and now > breach_at,
        }


def audit_rows(entries: list[Any], names: dict[int, str], texts: Texts,
               label: Callable[[int], str]) -> list[dict[str, Any]]:
    return [{
        "at": local_datetime(e.at),
        "who": names.get(e.agent_id, "—") if e.agent_id else "sistema",
        "action": texts.get("acciones_auditoria", e.action),
        "code": e.action,
        "ticket_id": e.ticket_id,
        "ticket_label": label(e.ticket_id) if e.ticket_id else "",
        "detail": e.detail or "",
    } for e in entries]
