"""Talking to the stack as WhatsApp users: signed webhooks straight to Rasa, and reading
what the simulator's phones received (with the simulator's own arrival timestamps)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from simulator import webhooks as wh


def wa_id(phase: int, index: int) -> str:
    """Distinct Chilean-looking numbers per phase; the last four digits differ within one."""
    return f"569{phase:02d}00{index:04d}"


async def post_text(client: httpx.AsyncClient, webhook_url: str, user: str, text: str) -> int:
    """One signed text webhook, as Meta posts it; returns the HTTP status."""
    body = wh.encode(wh.update(messages=[wh.text_message(user, text)]))
    headers = {"Content-Type": "application/json", wh.SIGNATURE_HEADER: wh.sign(body)}
    answer = await client.post(webhook_url, content=body, headers=headers)
    return answer.status_code


async def outbound(client: httpx.AsyncClient, simulator_url: str, user: str,
                   after: int = 0) -> list[dict[str, Any]]:
    answer = await client.get(f"{simulator_url}/_sim/conversations/{user}",
                              params={"after": after})
    answer.raise_for_status()
    return [e for e in answer.json()["events"] if e["direction"] == "out"]


async def settled_replies(client: httpx.AsyncClient, simulator_url: str, user: str, *,
                          quiet: float = 1.5, timeout: float = 30.0,
                          interval: float = 0.1) -> list[dict[str, Any]]:
    """Wait for at least one bot message, then until none arrives for ``quiet`` seconds
    (used to learn how many messages an answer has)."""
    deadline = time.monotonic() + timeout
    seen: list[dict[str, Any]] = []
    changed = time.monotonic()
    while time.monotonic() < deadline:
        events = await outbound(client, simulator_url, user)
        if len(events) != len(seen):
            seen, changed = events, time.monotonic()
        elif seen and time.monotonic() - changed >= quiet:
            return seen
        await asyncio.sleep(interval)
    if seen:
        return seen
    raise TimeoutError(f"no bot message within {timeout:.0f}s")


async def replies(client: httpx.AsyncClient, simulator_url: str, user: str, count: int, *,
                  timeout: float = 30.0, interval: float = 0.02) -> list[dict[str, Any]]:
    """Poll until ``count`` bot messages reached the user; the arrival times are the
    simulator's (``event["time"]``, wall clock), so the poll interval does not blur them."""
    deadline = time.monotonic() + timeout
    while True:
        events = await outbound(client, simulator_url, user)
        if len(events) >= count:
            return events
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(events)} of {count} bot messages within {timeout:.0f}s")
        await asyncio.sleep(interval)
