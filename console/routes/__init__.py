"""The console's pages and APIs, one Sanic blueprint per area.

| blueprint | pages |
| --- | --- |
| ``auth`` | login, logout, own password |
| ``queue`` | the live queue (``/``, ``/api/queue``), a trainer's home |
| ``casework`` | a conversation: read, claim, reply, notes, release, transfer, close, follow-up |
| ``supervision`` | the supervisor's live view, assignment, audit |
| ``reports`` | anonymous reports, chart, CSV |
| ``accounts`` | accounts (supervisors) |
| ``totp`` | enrolling one's own second factor |
"""

from __future__ import annotations

from sanic import Blueprint

from console.routes import accounts, auth, casework, queue, reports, supervision, totp


def blueprints() -> list[Blueprint]:
    """Fresh blueprints (one set per app: tests run several apps in one process)."""
    return [module.blueprint() for module in (auth, queue, casework, supervision, reports,
                                              accounts, totp)]
