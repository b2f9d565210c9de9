"""Load shapes: a closed loop (each sender waits for the answer before writing again) and
an open-loop rate ladder (messages at a fixed rate, whatever the answers do)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, Protocol

from bench.stats import percentile


class Target(Protocol):
    name: str

    async def send(self, sender: str, text: str) -> None: ...


async def _timed(target: Target, sender: str, text: str, latencies: list[float],
                 failures: list[str]) -> None:
    started = time.perf_counter()
    try:
        await target.send(sender, text)
    except Exception as error:  # noqa: BLE001 - counted, and the run goes on
        failures.append(type(error).__name__)
    latencies.append(time.perf_counter() - started)


def _figures(latencies: list[float], failures: list[str], wall: float) -> dict[str, Any]:
    return {"messages": len(latencies), "failures": len(failures),
            "wall_seconds": wall, "throughput": len(latencies) / wall if wall else None,
            "median_seconds": percentile(latencies, 50), "p95_seconds": percentile(latencies, 95),
            "latencies": latencies}


async def closed_loop(target: Target, senders: Sequence[str], script: Sequence[str],
                      concurrency: int = 20) -> dict[str, Any]:
    """Every sender writes ``script`` in order, each message after the previous answer;
    ``concurrency`` senders at a time."""
    slots = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    failures: list[str] = []

    async def conversation(sender: str) -> None:
        async with slots:
            for text in script:
                await _timed(target, sender, text, latencies, failures)

    started = time.perf_counter()
    await asyncio.gather(*(conversation(s) for s in senders))
    return _figures(latencies, failures, time.perf_counter() - started)


async def at_rate(target: Target, senders: Sequence[str], texts: Sequence[str], rate: float,
                  seconds: float) -> dict[str, Any]:
    """``rate`` messages per second for ``seconds``, each to a sender with nothing in flight."""
    latencies: list[float] = []
    failures: list[str] = []
    busy: set[str] = set()
    tasks = []

    async def one(sender: str, text: str) -> None:
        busy.add(sender)
        try:
            await _timed(target, sender, text, latencies, failures)
        finally:
            busy.discard(sender)

    started = time.perf_counter()
    count = int(rate * seconds)
    for k in range(count):
        delay = started + k / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        free = [s for s in senders if s not in busy]
        if not free:
            failures.append("no free sender")
            continue
        sender = free[k % len(free)]
        tasks.append(asyncio.create_task(one(sender, texts[k % len(texts)])))
    await asyncio.gather(*tasks)
    result = _figures(latencies, failures, time.perf_counter() - started)
    result["rate"] = rate
    return result


async def ladder(target: Target, senders: Sequence[str], texts: Sequence[str],
                 rates: Sequence[float], seconds: float = 6.0, p95_limit: float = 1.0,
                 pause: float = 2.0) -> dict[str, Any]:
    """Raise the rate step by step until p95 exceeds ``p95_limit`` (or a message fails);
    the sustained rate is the highest step that kept it."""
    steps = []
    sustained = 0.0
    for rate in rates:
        step = await at_rate(target, senders, texts, rate, seconds)
        step.pop("latencies")
        steps.append(step)
        if step["failures"] or step["p95_seconds"] > p95_limit:
            break
        sustained = rate
        await asyncio.sleep(pause)
    return {"sustained_rate": sustained, "p95_limit_seconds": p95_limit, "steps": steps}
