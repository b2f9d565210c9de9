"""Webhook acknowledgement times during a burst, now that the 200 waits for the inbox commit.

Not a test (timings are measured, never asserted): run it by hand on a quiet machine.

    .venv/bin/python -m tests.channel.ack_latency [--databases sqlite,postgresql]
        [--where rasa,receiver] [--messages 300] [--concurrency 50] [--repeats 3]
        [--channel-only]

For each database it starts the real stack (action server, Rasa with the WhatsApp channel,
simulator) with the channel's tables there (``DATABASE_URL``; Rasa's tracker store stays as
in endpoints.yml), then, ``--repeats`` times: a burst of ``--messages`` signed webhooks from as
many new senders, ``--concurrency`` at a time (simulator.load.send_webhooks), and waits until
the inbox and the outbox are settled, so every burst competes with the Rasa turns of its own
messages only. ``--where``: the webhook served inside Rasa (``rasa``), or by the webhook
receiver process of the production topology (``receiver``, channels/whatsapp/receiver.py),
which nudges Rasa; each is a stack of its own, measured one after the other in this run. Prints p50/p95/p99/max of the acknowledgements per burst and their medians,
and, as a baseline measured during the same bursts, the same figures for the channel's
``GET /webhooks/whatsapp/`` (same server and event loop, no database): the difference is what
storing the message costs; the baseline itself is the Rasa turns' share of the event loop.
PostgreSQL: a database ``t_ack_<random>`` is created at 127.0.0.1:5432 and dropped.

``--channel-only``: instead of the stack, a process serving only the channel (its webhook,
inbox worker and outbox sender, with a simulator as Meta) and a bot that answers each message
after 20 ms without using the CPU: what the storage path costs without Rasa's turns.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import func, select

try:
    from channels.whatsapp.tables import inbox, outbox
except ImportError:  # measuring a tree from before the inbox (a baseline): wait instead
    inbox = outbox = None
from simulator.load import send_webhooks
from stack import Stack, StackPorts
from store.db import make_engine

ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://root@127.0.0.1:5432/test")


@contextmanager
def database(kind: str, state_dir: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{state_dir}/helpline.db"
        return
    import psycopg2

    admin = psycopg2.connect(ADMIN_URL, connect_timeout=3)
    admin.autocommit = True
    name = f"t_ack_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def settled(url: str, timeout: float = 300.0) -> None:
    if inbox is None:
        time.sleep(30)
        return
    engine = make_engine(url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                open_in = conn.execute(select(func.count()).select_from(inbox).where(
                    inbox.c.state.in_(["pending", "processing"]))).scalar_one()
                open_out = conn.execute(select(func.count()).select_from(outbox).where(
                    outbox.c.state.in_(["pending", "sending"]))).scalar_one()
            if not open_in and not open_out:
                return
            time.sleep(0.5)
        raise TimeoutError("the stack did not settle")
    finally:
        engine.dispose()


def figures(values_ms: list[float]) -> dict[str, float]:
    return {"p50": statistics.median(values_ms), "p95": percentile(values_ms, 0.95),
            "p99": percentile(values_ms, 0.99), "max": max(values_ms)}


async def burst_with_baseline(webhook_url: str, users: list[str], concurrency: int,
                              rate: float | None = None) -> tuple[object, list[float]]:
    """The burst, and meanwhile GET /webhooks/whatsapp/ every 20 ms (baseline)."""
    health_url = webhook_url.rsplit("/", 1)[0] + "/"
    baseline: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            while not done.is_set():
                started = time.perf_counter()
                await client.get(health_url)
                baseline.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.02)

    prober = asyncio.ensure_future(probe())
    try:
        load = await send_webhooks(webhook_url, len(users), wa_ids=users,
                                   concurrency=concurrency, timeout=30, rate=rate)
    finally:
        done.set()
        with contextlib.suppress(Exception):
            await prober
    return load, baseline


def measure(kind: str, messages: int, concurrency: int, repeats: int,
            receiver: bool = False, rate: float | None = None) -> list[dict]:
    stack = Stack(ports=StackPorts.free(), simulator=True, console=False,
                  webhook_receiver=receiver,
                  extra_env={"HELPLINE_DATA_KEY": Fernet.generate_key().decode()})
    runs = []
    with database(kind, str(stack.state_dir)) as url:
        stack.extra_env["DATABASE_URL"] = url
        try:
            stack.start()
            asyncio.run(send_webhooks(stack.webhook_url, 20, concurrency=5))  # warm-up
            settled(url)
            for repeat in range(repeats):
                users = [f"5697{repeat:02d}{i:05d}" for i in range(messages)]
                load, baseline = asyncio.run(burst_with_baseline(stack.webhook_url, users,
                                                                 concurrency, rate))
                assert load.ok == messages, f"{messages - load.ok} webhooks not acknowledged"
                acks = [s * 1000 for s in load.ack_seconds]
                runs.append({**figures(acks), "wall": load.wall_seconds,
                             "baseline": figures(baseline) if baseline else None})
                settled(url)
        finally:
            stack.cleanup()
    return runs


def serve_channel(port: int) -> None:
    """The channel alone, on ``port`` (the ``--serve-channel`` subprocess)."""
    from sanic import Sanic

    from channels.whatsapp.config import WhatsAppConfig
    from channels.whatsapp.input import WhatsAppInput
    from simulator.serving import serve, start_simulator
    from simulator.settings import SimulatorSettings

    sim = start_simulator(SimulatorSettings(retry_webhooks_for=0))
    config = WhatsAppConfig.sandbox_defaults(api_url=sim.api_url)
    channel = WhatsAppInput(config)

    async def bot(message) -> None:
        await asyncio.sleep(0.02)
        await message.output_channel.send_text_message(message.sender_id, "Te escucho.")

    async def run() -> None:
        app = Sanic("ack_channel_only", configure_logging=False)
        app.blueprint(channel.blueprint(bot), url_prefix="/webhooks/whatsapp")
        from simulator.serving import bind

        async with serve(app, sock=bind(port=port)):
            await asyncio.Event().wait()

    asyncio.run(run())


@contextmanager
def channel_process(url: str) -> Iterator[str]:
    import subprocess
    import sys

    from simulator.serving import free_port

    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": os.getcwd(),
           "HELPLINE_DATA_KEY": Fernet.generate_key().decode()}
    process = subprocess.Popen([sys.executable, "-m", "tests.channel.ack_latency",
                                "--serve-channel", str(port)], env=env)
    webhook = f"http://127.0.0.1:{port}/webhooks/whatsapp/webhook"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(webhook.rsplit("/", 1)[0] + "/", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the channel process did not start") from None
                time.sleep(0.2)
        yield webhook
    finally:
        process.terminate()
        process.wait(30)


def measure_channel_only(kind: str, messages: int, concurrency: int, repeats: int) -> list[dict]:
    import tempfile

    runs = []
    with tempfile.TemporaryDirectory() as state_dir, database(kind, state_dir) as url:
        with channel_process(url) as webhook:
            asyncio.run(send_webhooks(webhook, 20, concurrency=5))
            settled(url)
            for repeat in range(repeats):
                users = [f"5696{repeat:02d}{i:05d}" for i in range(messages)]
                load, baseline = asyncio.run(burst_with_baseline(webhook, users, concurrency))
                assert load.ok == messages, f"{messages - load.ok} webhooks not acknowledged"
                runs.append({**figures([s * 1000 for s in load.ack_seconds]),
                             "wall": load.wall_seconds,
                             "baseline": figures(baseline) if baseline else None})
                settled(url)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate", type=float, default=None,
                        help="a steady stream of this many webhooks/s instead of a burst")
    parser.add_argument("--where", default="rasa,receiver",
                        help="rasa, receiver or both (the whole stack only)")
    parser.add_argument("--channel-only", action="store_true")
    parser.add_argument("--serve-channel", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_channel:
        serve_channel(args.serve_channel)
        return
    os.environ.pop("WHATSAPP_ACCESS_TOKEN", None)
    pace = f"{args.rate:g}/s" if args.rate else f"{args.concurrency} at a time"
    print(f"{'channel only' if args.channel_only else 'whole stack'}: {args.messages} webhooks "
          f"from {args.messages} senders, {pace}, {args.repeats} runs; acknowledgement in ms")
    places = ["channel"] if args.channel_only else [w.strip() for w in args.where.split(",")]
    for kind in args.databases.split(","):
        kind = kind.strip()
        for where in places:
            if where == "channel":
                runs = measure_channel_only(kind, args.messages, args.concurrency, args.repeats)
            else:
                runs = measure(kind, args.messages, args.concurrency, args.repeats,
                               receiver=where == "receiver", rate=args.rate)
            print_runs(f"{kind}/{where}", runs)


def print_runs(label: str, runs: list[dict]) -> None:
    for number, run in enumerate(runs, 1):
        base = run["baseline"] or {"p50": float("nan"), "p99": float("nan")}
        print(f"  {label:20} burst {number}: p50 {run['p50']:6.1f}  p95 {run['p95']:6.1f}  "
              f"p99 {run['p99']:6.1f}  max {run['max']:6.1f}  ({run['wall']:.1f} s)   "
              f"baseline GET p50 {base['p50']:5.1f} p99 {base['p99']:6.1f}", flush=True)
    medians = {k: statistics.median(r[k] for r in runs) for k in ("p50", "p95", "p99")}
    print(f"  {label:20} median of bursts: p50 {medians['p50']:.1f}  p95 {medians['p95']:.1f}"
          f"  p99 {medians['p99']:.1f}", flush=True)


if __name__ == "__main__":
    main()
