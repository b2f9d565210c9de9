"""The one place that knows the console: who is logged in, her role, the CSRF token, audit.

The console authenticates every request (and checks the CSRF token of every form) before a
route of this blueprint runs; this module only reads what it left on ``request.ctx``.
"""

from __future__ import annotations

import logging
from typing import Any

from sanic.request import Request

logger = logging.getLogger(__name__)

ALLOWED_ROLES = frozenset({"trainer", "supervisor"})


def role_of(request: Request) -> str | None:
    return getattr(getattr(request.ctx, "agent", None), "role", None)


def may_review(request: Request) -> bool:
    return role_of(request) in ALLOWED_ROLES


def csrf_of(request: Request) -> str:
    return getattr(getattr(request.ctx, "session", None), "csrf_token", "") or ""


def username_of(request: Request) -> str:
    return getattr(getattr(request.ctx, "agent", None), "username", "") or ""


async def audit(request: Request, action: str, detail: str = "") -> None:
    """Record what a trainer did (never the message) in the console's audit log."""
    services: Any = getattr(request.app.ctx, "services", None)
    agent = getattr(request.ctx, "agent", None)
    if services is None or agent is None:
        return
    try:
        await services.queue.audit(action, agent.id, detail=detail[:100])
    except Exception:  # noqa: BLE001 - auditing must not lose a label
        logger.exception("Could not audit %s.", action)
