"""Issue 3b: end-to-end time of one message, WhatsApp channel (signed webhook POST → the
answer at the simulator) beside Rasa's REST channel (synchronous POST → bot messages), same
model, same run, same text, distinct users, interleaved A, B, A, B so noise hits both."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from bench.phones import post_text, replies, settled_replies, wa_id

PHASE = 20


async def _rest(client: httpx.AsyncClient, rasa_url: str, sender: str, text: str) -> tuple[float, int]:
    started = time.perf_counter()
    answer = await client.post(f"{rasa_url}/webhooks/rest/webhook",
                               json={"sender": sender, "message": text})
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    return elapsed, len(answer.json())


async def _whatsapp(client: httpx.AsyncClient, stack: Any, user: str, text: str,
                    expected: int) -> tuple[float, float, float]:
    """(ack, first message arrived, whole answer arrived), seconds from just before the POST."""
    started, clock = time.time(), time.perf_counter()
    status = await post_text(client, stack.webhook_url, user, text)
    ack = time.perf_counter() - clock
    if status != 200:
        raise RuntimeError(f"webhook answered {status}")
    events = await replies(client, stack.simulator_url, user, expected, timeout=30)
    return ack, events[0]["time"] - started, events[expected - 1]["time"] - started


async def run(stack: Any, pairs: int = 20, text: str = "como denuncio", warmups: int = 2,
              settle: float = 0.2) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as client:
        expected = 0
        rest_counts = set()
        for i in range(warmups):  # not timed; learns the answer's length on both channels
            user = wa_id(PHASE, 9000 + i)
            await post_text(client, stack.webhook_url, user, text)
            expected = len(await settled_replies(client, stack.simulator_url, user))
            rest_counts.add((await _rest(client, stack.rasa_url, f"bench-rest-warm-{i}", text))[1])

        acks, first, whole, rest, rest_lengths = [], [], [], [], []
        for i in range(pairs):
            ack, one, done = await _whatsapp(client, stack, wa_id(PHASE, i), text, expected)
            acks.append(ack)
            first.append(one)
            whole.append(done)
            await asyncio.sleep(settle)
            elapsed, length = await _rest(client, stack.rasa_url, f"bench-rest-{i}", text)
            rest.append(elapsed)
            rest_lengths.append(length)
            await asyncio.sleep(settle)
    return {
        "pairs": pairs,
        "text": text,
        "whatsapp_messages_per_answer": expected,
        "rest_messages_per_answer": sorted(set(rest_lengths) | rest_counts),
        "whatsapp_ack_seconds": acks,
        "whatsapp_first_message_seconds": first,
        "whatsapp_whole_answer_seconds": whole,
        "rest_seconds": rest,
        "settle_seconds_between": settle,
    }
