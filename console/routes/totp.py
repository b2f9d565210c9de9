"""Second factor (TOTP): enrol by showing the secret and confirming a first code."""

from __future__ import annotations

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from console.totp import otpauth_uri
from console.web import TOTP_PAGE, back, form, me, render, services


async def _page(request: Request, error: str | None = None, status: int = 200) -> HTTPResponse:
    agent = me(request)
    secret = await services(request).totp.pending_secret(agent.id)
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)) if secret else ""
    return render(request, "totp.html", status=status, title="Verificación en dos pasos",
                  active=secret is None, secret=grouped,
                  uri=otpauth_uri(secret, agent.username) if secret else "", error=error)


def blueprint() -> Blueprint:
    bp = Blueprint("totp")

    @bp.get(TOTP_PAGE)
    async def totp_page(request: Request) -> HTTPResponse:
        return await _page(request)

    @bp.post(TOTP_PAGE)
    async def totp_confirm(request: Request) -> HTTPResponse:
        s, agent = services(request), me(request)
        if not await s.totp.pending_secret(agent.id):
            return back("/", "totp_enabled")  # already active
        if not await s.totp.check(agent.id, form(request).get("code")):
            return await _page(request, s.texts.message("totp_wrong"), 400)
        await s.queue.audit("totp_enabled", agent.id)
        return back("/", "totp_enabled")

    return bp
