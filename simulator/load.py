"""Load generator for benchmarks: N signed webhooks at once, ack times, waiting for answers."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx

from channels.whatsapp.config import SANDBOX_APP_SECRET, SANDBOX_PHONE_NUMBER_ID
from channels.whatsapp.graph_client import shared_ssl_context
from simulator import webhooks as wh
from simulator.state import SimState


@dataclass
class LoadResult:
    ack_seconds: list[float] = field(default_factory=list)
    statuses: list[int | None] = field(default_factory=list)
    wa_ids: list[str] = field(default_factory=list)
    wamids: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def ok(self) -> int:
        return sum(1 for s in self.statuses if s == 200)

    @property
    def median(self) -> float:
        return statistics.median(self.ack_seconds) if self.ack_seconds else float("nan")

    @property
    def p95(self) -> float:
        if not self.ack_seconds:
            return float("nan")
        ordered = sorted(self.ack_seconds)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def user_id(index: int) -> str:
    """Distinct fake Chilean mobile numbers for simulated users."""
    return f"5699{index:07d}"


async def send_webhooks(
    webhook_url: str,
    n: int,
    *,
    texts: Sequence[str] = ("hola",),
    wa_ids: Sequence[str] | None = None,
    app_secret: str = SANDBOX_APP_SECRET,
    phone_number_id: str = SANDBOX_PHONE_NUMBER_ID,
    concurrency: int = 50,
    timeout: float = 10.0,
    rate: float | None = None,
) -> LoadResult:
    """Post ``n`` signed text webhooks, ``concurrency`` at a time (one user each unless
    ``wa_ids`` repeats), and measure each acknowledgement time. ``rate``: a steady stream
    instead of a burst, the i-th post leaving i/rate seconds after the first (still at most
    ``concurrency`` at a time).

    Uses aiohttp (a Rasa dependency): at high concurrency httpx's own CPU cost would
    dominate the measured times."""
    users = list(wa_ids) if wa_ids else [user_id(i) for i in range(n)]
    result = LoadResult()
    semaphore = asyncio.Semaphore(max(1, concurrency))
    bodies = []
    for index in range(n):
        message = wh.text_message(users[index % len(users)], texts[index % len(texts)])
        body = wh.encode(wh.update(messages=[message], phone_number_id=phone_number_id))
        bodies.append((message, body, wh.sign(body, app_secret)))

    async def one(session: aiohttp.ClientSession, index: int) -> None:
        message, body, signature = bodies[index]
        headers = {"Content-Type": "application/json", wh.SIGNATURE_HEADER: signature}
        if rate:
            await asyncio.sleep(max(0.0, started + index / rate - time.perf_counter()))
        async with semaphore:
            start = time.perf_counter()
            try:
                async with session.post(webhook_url, data=body, headers=headers) as answer:
                    await answer.read()
                    status: int | None = answer.status
            except (aiohttp.ClientError, asyncio.TimeoutError):
                status = None
            elapsed = time.perf_counter() - start
        result.ack_seconds.append(elapsed)
        result.statuses.append(status)
        result.wa_ids.append(message["from"])
        result.wamids.append(message["id"])

    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=max(1, concurrency))
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        await asyncio.gather(*(one(session, i) for i in range(n)))
    result.wall_seconds = time.perf_counter() - started
    return result


async def wait_for_reply(simulator_url: str, wa_id: str, *, after: int = 0, count: int = 1,
                         timeout: float = 10.0, interval: float = 0.05) -> list[dict[str, Any]]:
    """Poll the simulator until ``count`` bot messages to ``wa_id`` newer than ``after``
    (a ``seq``) arrived; return them. Raises TimeoutError."""
    deadline = time.monotonic() + timeout
    url = f"{simulator_url.rstrip('/')}/_sim/conversations/{wa_id}"
    async with httpx.AsyncClient(timeout=timeout, verify=shared_ssl_context()) as client:
        while True:
            events = (await client.get(url, params={"after": after})).json()["events"]
            replies = [e for e in events if e["direction"] == "out"]
            if len(replies) >= count:
                return replies
            if time.monotonic() > deadline:
                raise TimeoutError(f"no reply to {wa_id} within {timeout}s")
            await asyncio.sleep(interval)


async def wait_for_outbound(state: SimState, wa_id: str | None = None, *, after: int = 0,
                            count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Same as ``wait_for_reply`` for a simulator in this process (reads its state)."""
    deadline = time.monotonic() + timeout
    while True:
        replies = [e for e in state.outbound(wa_id) if e["seq"] > after]
        if len(replies) >= count:
            return replies
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(replies)} of {count} bot messages within {timeout}s")
        await asyncio.sleep(0.01)
