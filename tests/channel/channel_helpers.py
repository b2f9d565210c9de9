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

from channels.whatsapp.config import WhatsAppConfig
from channels.whatsapp.graph_client import GraphClient, shared_ssl_context
from channels.whatsapp.input import WhatsAppInput
from simulator.serving import serve

FIXTURES = Path(__file__).resolve().parent / "fixtures"
WA_ID = "56911112222"
PROFILE_NAME = "María José Pérez"


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
    **kwargs: Any,
) -> AsyncIterator[tuple[str, WhatsAppInput]]:
    """The channel's blueprint in a bare Sanic app; yields (webhook URL, channel)."""
    channel = WhatsAppInput(config, fast_graph(config, **kwargs))
    app = Sanic(f"channel_test_{uuid.uuid4().hex[:10]}", configure_logging=False)
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/whatsapp")
    async with serve(app, sock=sock) as url:
        yield f"{url}/webhooks/whatsapp/webhook", channel
        await channel.dispatcher.join(10)
