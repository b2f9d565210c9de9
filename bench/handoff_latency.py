"""Issue 4: (a) a user's emergency message (simulator /_sim/send) → its ticket visible in the
console's /api/queue; (b) a specialist's reply (POST /tickets/<id>/reply, after claiming) →
the message at the simulator. One specialist, created with the queue API, logged in over HTTP."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import timezone
from typing import Any

import httpx

from bench.console_client import ConsoleClient
from bench.phones import outbound, settled_replies, wa_id
from console.security import hash_password
from handoff.queue import HandoffQueue
from store.db import make_engine

PHASE = 30


async def _ticket_in_queue(console: ConsoleClient, queue: HandoffQueue, user: str,
                           known: set[int], timeout: float, interval: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state = await console.queue()
        mine = queue.open_ticket_for(user)  # the console shows a keyed label, never her number
        for ticket in state["waiting"]:
            if ticket["id"] not in known and mine is not None and ticket["id"] == mine.id:
                return ticket
        if time.monotonic() > deadline:
            raise TimeoutError(f"no ticket in /api/queue within {timeout:.0f}s")
        await asyncio.sleep(interval)


async def _arrival(client: httpx.AsyncClient, simulator_url: str, user: str, text: str,
                   timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while True:
        for event in await outbound(client, simulator_url, user):
            if event.get("text") == text:
                return event["time"]
        if time.monotonic() > deadline:
            raise TimeoutError(f"reply not at the simulator within {timeout:.0f}s")
        await asyncio.sleep(0.02)


async def run(stack: Any, repetitions: int = 10, text: str = "ayuda me esta pegando ahora",
              poll: float = 0.05, timeout: float = 30.0) -> dict[str, Any]:
    queue = HandoffQueue(make_engine(stack.env()["DATABASE_URL"]))
    username, password = "bench-especialista", secrets.token_urlsafe(16)
    if queue.agent_by_username(username) is None:
        queue.create_agent(username, hash_password(password), "specialist")
    console = ConsoleClient(stack.console_url, timeout=timeout)
    visible, written, reply_arrival, reply_post = [], [], [], []
    try:
        await console.login(username, password)
        known = {t["id"] for t in (await console.queue())["waiting"]}
        async with httpx.AsyncClient(timeout=timeout) as client:
            for i in range(repetitions):
                user = wa_id(PHASE, i)
                started = time.time()
                sent = await client.post(f"{stack.simulator_url}/_sim/send",
                                         json={"wa_id": user, "type": "text", "text": text})
                sent.raise_for_status()
                if sent.json().get("webhook_status") != 200:
                    raise RuntimeError(f"webhook answered {sent.json()}")
                ticket = await _ticket_in_queue(console, queue, user, known, timeout, poll)
                visible.append(time.time() - started)
                known.add(ticket["id"])
                created = queue.get(ticket["id"]).created_at.replace(tzinfo=timezone.utc)
                written.append(created.timestamp() - started)

                # let the bot finish its own answer, then the specialist takes over
                await settled_replies(client, stack.simulator_url, user, quiet=0.7,
                                      timeout=timeout, interval=0.1)
                if (flash := await console.claim(ticket["id"])) != "claimed":
                    raise RuntimeError(f"claim answered {flash!r}")
                reply = f"Hola, soy especialista del equipo. ¿Puedes escribir ahora? ({i + 1})"
                started, clock = time.time(), time.perf_counter()
                # "accepted": Rasa took it (the console cannot know more without the outbox)
                if (flash := await console.reply(ticket["id"], reply)) not in ("sent", "accepted"):
                    raise RuntimeError(f"reply answered {flash!r}")
                reply_post.append(time.perf_counter() - clock)
                arrived = await _arrival(client, stack.simulator_url, user, reply, timeout)
                reply_arrival.append(arrived - started)
    finally:
        await console.aclose()
    return {
        "repetitions": repetitions,
        "text": text,
        "poll_interval_seconds": poll,
        "ticket_visible_seconds": visible,
        "ticket_written_seconds": written,
        "reply_arrival_seconds": reply_arrival,
        "reply_post_seconds": reply_post,
    }
