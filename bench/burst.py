"""Issue 3a: 50 conversations at once. Webhook acknowledgement times (send_webhooks), then
whether and when every one of them got its answer at the simulator."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from bench.phones import outbound, settled_replies, wa_id
from simulator.load import send_webhooks

PHASE = 10


async def run(stack: Any, users: int = 50, text: str = "hola",
              answer_timeout: float = 150.0) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        # warm-up user: learn how many messages the answer has (not timed)
        warm = wa_id(PHASE, 9999)
        await send_webhooks(stack.webhook_url, 1, texts=(text,), wa_ids=[warm])
        expected = len(await settled_replies(client, stack.simulator_url, warm))

        ids = [wa_id(PHASE, i) for i in range(users)]
        started = time.time()
        load = await send_webhooks(stack.webhook_url, users, texts=(text,), wa_ids=ids,
                                   concurrency=users, timeout=30.0)
        deadline = time.monotonic() + answer_timeout
        pending = set(ids)
        while pending and time.monotonic() < deadline:
            answer = await client.get(f"{stack.simulator_url}/_sim/conversations")
            counts = {c["wa_id"]: c["count"] for c in answer.json()["conversations"]}
            pending = {u for u in pending if counts.get(u, 0) < expected}
            if pending:
                await asyncio.sleep(0.25)
        gave_up = time.time() - started if pending else None

        first, complete = [], []
        for user in ids:
            events = await outbound(client, stack.simulator_url, user)
            if events:
                first.append(events[0]["time"] - started)
            if len(events) >= expected:
                complete.append(events[expected - 1]["time"] - started)
    return {
        "users": users,
        "text": text,
        "replies_per_answer": expected,
        "ack_seconds": load.ack_seconds,
        "acks_200": load.ok,
        "send_wall_seconds": load.wall_seconds,
        "answered": len(first),
        "answered_completely": len(complete),
        "first_reply_seconds": first,
        "complete_answer_seconds": complete,
        "last_complete_answer_seconds": max(complete) if complete else None,
        "gave_up_after_seconds": gave_up,
    }
