"""``GET /webhooks/whatsapp/ready``: can this instance keep the promise of a 200?

Not ready (503) when the inbox database does not answer, when Rasa has no agent yet, when the
inbox worker is not running, or when Rasa's event broker is not the project's escalation
broker (``WHATSAPP_REQUIRED_BROKER``, default ``handoff.escalation.EscalationBroker``; Rasa
only logs an error and runs without a broker if it cannot load it, and then a paused
conversation's emergency would not be escalated).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from channels.whatsapp.tables import engine

DEFAULT_REQUIRED_BROKER = "handoff.escalation.EscalationBroker"


@dataclass(frozen=True)
class Readiness:
    problems: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {"ready": self.ready, "problems": list(self.problems)}


def required_broker() -> str:
    return os.environ.get("WHATSAPP_REQUIRED_BROKER", DEFAULT_REQUIRED_BROKER).strip()


def database_answers() -> bool:
    try:
        with engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False


def broker_problem(agent: Any) -> str | None:
    """None if the agent's tracker store publishes to the required broker."""
    wanted = required_broker()
    if not wanted:
        return None
    store = getattr(agent, "tracker_store", None)
    broker = getattr(store, "event_broker", None)
    if broker is None:
        return "event_broker: none loaded"
    path = f"{type(broker).__module__}.{type(broker).__qualname__}"
    return None if path == wanted else f"event_broker: {path} is not {wanted}"


def check(agent: Any, database_ok: bool, worker_running: bool) -> Readiness:
    problems = []
    if not database_ok:
        problems.append("database: the inbox database does not answer")
    if agent is None:
        problems.append("rasa: no agent loaded")
    else:
        problem = broker_problem(agent)
        if problem:
            problems.append(problem)
    if not worker_running:
        problems.append("inbox worker: not running")
    return Readiness(tuple(problems))
