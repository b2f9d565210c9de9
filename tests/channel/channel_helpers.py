"""Shared helpers of the channel tests: fixture payloads, a fake bot, the channel server."""

from __future__ import annotations

import asyncio
import copy
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from rasa.core.channels.channel import UserMessage
from sanic import Sanic
from sqlalchemy import select

from channels.whatsapp.config import Tuning, WhatsAppConfig
from channels.whatsapp.graph_client import GraphClient, shared_ssl_context
from channels.whatsapp.input import WhatsAppInput
from channels.whatsapp.tables import engine, inbox, outbox
from simulator.serving import serve

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PYWA_FIXTURES = FIXTURES / "pywa"
PYWA_PHONE_NUMBER_ID = "1122334455667"
WA_ID = "56911112222"
PROFILE_NAME = "María José Pérez"

# Test timing: quick polls, a dead instance is noticed after 2 s, short backoffs.
FAST = Tuning(poll_seconds=0.05, stale_seconds=2.0, send_max_backoff=0.2,
              reconcile_seconds=1.0, drain_seconds=3.0)


def inbox_rows() -> list[Any]:
    with engine().connect() as conn:
        return conn.execute(select(inbox).order_by(inbox.c.id)).all()


def outbox_rows() -> list[Any]:
    with engine().connect() as conn:
        return conn.execute(select(outbox).order_by(outbox.c.id)).all()


def pywa_payloads() -> list[tuple[str, dict[str, Any]]]:
    """(file:name, payload) of every copied pywa fixture."""
    found = []
    for path in sorted(PYWA_FIXTURES.glob("*.json")):
        for name, payload in json.loads(path.read_text("utf-8")).items():
            found.append((f"{path.stem}:{name}", payload))
    return found


def load_fixture(name: str, fresh: bool = False) -> dict[str, Any]:
    """A fixture payload; ``fresh`` dates its messages now (inside the 24-hour window)."""
    payload = json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))
    if fresh:
        for entry in payload["entry"]:
            for change in entry["changes"]:
                for message in change["value"].get("messages") or []:
                    if isinstance(message, dict):
                        message["timestamp"] = str(int(time.time()))
    return payload


def first_message(payload: dict[str, Any]) -> dict[str, Any]:
    return payload["entry"][0]["changes"][0]["value"]["messages"][0]


def with_reply_id(name: str, reply_id: str) -> dict[str, Any]:
    """A reply fixture (button, list or template button) carrying ``reply_id``."""
    payload = copy.deepcopy(load_fixture(name))
    message = first_message(payload)
    if message["type"] == "button":
        message["button"]["payload"] = reply_id
    else:
        sub = message["interactive"]["type"]
        message["interactive"][sub]["id"] = reply_id
    return payload


def http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=shared_ssl_context())


def fast_graph(config: WhatsAppConfig, **kwargs: Any) -> GraphClient:
    """A Graph client whose retry waits are milliseconds."""
    return GraphClient.from_config(config, base_delay=0.01, max_delay=0.04, **kwargs)


class Recorder:
    """A fake ``on_new_message``: records UserMessages, optionally answers through them."""

    def __init__(self, delay: float = 0.0, reply: str | None = None) -> None:
        self.messages: list[UserMessage] = []
        self.delay = delay
        self.reply = reply

    async def __call__(self, message: UserMessage) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.messages.append(message)
        if self.reply:
            await message.output_channel.send_text_message(message.sender_id, self.reply)

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[UserMessage]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.messages) < count:
            if loop.time() > deadline:
                raise TimeoutError(f"{len(self.messages)} of {count} messages")
            await asyncio.sleep(0.01)
        return self.messages


@asynccontextmanager
async def channel_server(
    config: WhatsAppConfig, on_new_message: Any, sock: socket.socket | None = None,
    agent: Any = None, **kwargs: Any,
) -> AsyncIterator[tuple[str, WhatsAppInput]]:
    """The channel's blueprint in a bare Sanic app (its worker and sender start with the
    server); yields (webhook URL, channel)."""
    channel = WhatsAppInput(config, fast_graph(config, **kwargs))
    app = Sanic(f"channel_test_{uuid.uuid4().hex[:10]}", configure_logging=False)
    if agent is not None:
        app.ctx.agent = agent
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/whatsapp")
    async with serve(app, sock=sock) as url:
        yield f"{url}/webhooks/whatsapp/webhook", channel


async def settle(channel: WhatsAppInput, timeout: float = 10.0) -> None:
    """Wait until the channel's inbox and outbox have nothing open."""
    assert channel.runtime is not None
    await channel.runtime.settle(timeout)
