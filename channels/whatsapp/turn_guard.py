"""A turn that cannot finish its work is not saved: her message waits in the inbox.

Rasa catches every ``Exception`` raised by a custom action, logs it, and goes on: the turn is
saved without that action's events — her emergency ticket or her answer is lost for good
while the message counts as handled. For turns run by the inbox worker (and only those), the
action endpoint raises ``ActionServerUnavailable`` instead when it cannot connect. It derives
from ``BaseException`` on purpose, so that Rasa's ``except Exception`` lets it through and
the turn ends before the tracker is saved (Rasa's lock is released by its context manager).
The worker gives the message back to the inbox and waits until the action server answers
its health check; the turn is then replayed (outbox keys keep the replies already queued
from being sent twice). Likewise, a reply that cannot be stored in the outbox (database
unreachable) raises ``OutboxUnavailable`` in an inbox turn rather than being lost.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from contextlib import contextmanager
from typing import Any

import aiohttp
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

_in_guarded_turn: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "whatsapp_guarded_turn", default=False)


class TurnInterrupted(BaseException):  # noqa: N818 - a control-flow signal, see above
    """An inbox turn cannot finish; it must end before Rasa saves the tracker."""


class ActionServerUnavailable(TurnInterrupted):
    """The action server could not be reached during an inbox turn."""


class OutboxUnavailable(TurnInterrupted):
    """A reply of an inbox turn could not be stored in the outbox."""


def in_guarded_turn() -> bool:
    return _in_guarded_turn.get()


@contextmanager
def guarded_turn():
    """Mark the current task as running an inbox turn."""
    token = _in_guarded_turn.set(True)
    try:
        yield
    finally:
        _in_guarded_turn.reset(token)


class GuardedEndpoint(EndpointConfig):
    """The agent's action endpoint, raising ``ActionServerUnavailable`` in inbox turns."""

    def __init__(self, inner: EndpointConfig) -> None:
        super().__init__(url=inner.url, params=inner.params, headers=inner.headers,
                         basic_auth=inner.basic_auth, token=inner.token,
                         token_name=inner.token_name, cafile=inner.cafile, type=inner.type,
                         **inner.kwargs)
        self.inner = inner

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().request(*args, **kwargs)
        except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as error:
            if not _in_guarded_turn.get():
                raise
            if _action_name(kwargs) == SESSION_START:
                logger.warning("action server unreachable at a session start; the session "
                               "starts without it")
                # The first message of a session must not wait for the action server: the
                # rules (and the emergency answer, a domain response) need only Rasa. Start
                # the session as Rasa's default action would; if a later action of this turn
                # needs the server, the turn is interrupted and replayed as usual, and the
                # project's own session start then runs (it re-pauses a handed-off case).
                return {"events": [{"event": "session_started"},
                                   {"event": "action", "name": "action_listen"}],
                        "responses": []}
            raise ActionServerUnavailable(type(error).__name__) from error


SESSION_START = "action_session_start"


def _action_name(kwargs: dict[str, Any]) -> str | None:
    body = kwargs.get("json")
    return body.get("next_action") if isinstance(body, dict) else None


def health_url(endpoint: EndpointConfig | None) -> str | None:
    """rasa_sdk's ``/health`` next to its ``/webhook``."""
    if endpoint is None or not endpoint.url:
        return None
    base = endpoint.url.rstrip("/")
    if base.endswith("/webhook"):
        base = base[: -len("/webhook")]
    return f"{base}/health"


def install(agent: Any) -> EndpointConfig | None:
    """Wrap the agent's action endpoint (and its processor's); returns the guarded endpoint."""
    endpoint = getattr(agent, "action_endpoint", None)
    if endpoint is None:
        return None
    if not isinstance(endpoint, GuardedEndpoint):
        endpoint = GuardedEndpoint(endpoint)
        agent.action_endpoint = endpoint
    processor = getattr(agent, "processor", None)
    if processor is not None:
        processor.action_endpoint = endpoint
    return endpoint
