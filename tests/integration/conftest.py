"""The real stack (action server, Rasa with the WhatsApp channel, console, simulator), started
once for the integration tests on free ports with temporary databases."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stack import Stack, StackPorts

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "asistente.tar.gz"


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    if not MODEL.exists():
        pytest.fail("no trained model: run `make train` (make test does it first)")
    env_token = os.environ.pop("WHATSAPP_ACCESS_TOKEN", None)
    running = Stack(ports=StackPorts.free(), simulator=True)
    try:
        running.start()
        with running.data_key_here():  # the tests read her ticket from the queue
            yield running
    finally:
        running.cleanup()
        if env_token is not None:
            os.environ["WHATSAPP_ACCESS_TOKEN"] = env_token


class Phone:
    """One simulated WhatsApp user talking to the stack through the simulator."""

    def __init__(self, stack: Stack, wa_id: str) -> None:
        self.stack, self.wa_id, self.seq = stack, wa_id, 0

    def _send(self, **data) -> None:
        response = httpx.post(f"{self.stack.simulator_url}/_sim/send",
                              json={"wa_id": self.wa_id, **data}, timeout=10)
        response.raise_for_status()
        self.seq = max(self.seq, response.json()["seq"])

    def write(self, text: str) -> None:
        self._send(type="text", text=text)

    def tap(self, reply_id: str, title: str, kind: str = "button_reply") -> None:
        self._send(type=kind, id=reply_id, title=title)

    def replies(self, count: int = 1, timeout: float = 30.0) -> list[dict]:
        from simulator.load import wait_for_reply

        found = asyncio.run(wait_for_reply(self.stack.simulator_url, self.wa_id,
                                           after=self.seq, count=count, timeout=timeout))
        self.seq = max(e["seq"] for e in found)
        return found

    def silent_for(self, seconds: float) -> bool:
        try:
            self.replies(count=1, timeout=seconds)
        except TimeoutError:
            return True
        return False


def body_of(event: dict) -> str:
    """The visible text of a message the bot sent (text or interactive)."""
    message = event["message"]
    if message.get("type") == "text":
        return message["text"]["body"]
    if message.get("type") == "interactive":
        return message["interactive"]["body"]["text"]
    return ""


def buttons_of(event: dict) -> list[dict]:
    interactive = event["message"].get("interactive") or {}
    if interactive.get("type") == "button":
        return [b["reply"] for b in interactive["action"]["buttons"]]
    if interactive.get("type") == "list":
        return [row for section in interactive["action"]["sections"] for row in section["rows"]]
    return []


@pytest.fixture()
def phone(stack: Stack, request) -> Phone:
    number = 56900000000 + (abs(hash(request.node.name)) % 10_000_000)
    return Phone(stack, str(number))
