"""Webhook acknowledgement times during a burst, now that the 200 waits for the inbox commit.

Not a test (timings are measured, never asserted): run it by hand on a quiet machine.

    .venv/bin/python -m tests.channel.ack_latency [--databases sqlite,postgresql]
        [--messages 300] [--concurrency 50] [--repeats 3]

For each database it starts the real stack (action server, Rasa with the WhatsApp channel,
simulator) with the channel's tables there (``DATABASE_URL``; Rasa's tracker store stays as
in endpoints.yml), then, ``--repeats`` times: a burst of ``--messages`` signed webhooks from as
many new senders, ``--concurrency`` at a time (simulator.load.send_webhooks), and waits until
the inbox and the outbox are settled, so every burst competes with the Rasa turns of its own
messages only. Prints p50/p95/p99/max of the acknowledgements per burst and their medians.
PostgreSQL: a database ``t_ack_<random>`` is created at 127.0.0.1:5432 and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from cryptography.fernet import Fernet
from sqlalchemy import func, select

from channels.whatsapp.tables import inbox, outbox
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


def measure(kind: str, messages: int, concurrency: int, repeats: int) -> list[dict]:
    stack = Stack(ports=StackPorts.free(), simulator=True, console=False,
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
                load = asyncio.run(send_webhooks(stack.webhook_url, messages, wa_ids=users,
                                                 concurrency=concurrency, timeout=30))
                assert load.ok == messages, f"{messages - load.ok} webhooks not acknowledged"
                acks = [s * 1000 for s in load.ack_seconds]
                runs.append({"p50": statistics.median(acks), "p95": percentile(acks, 0.95),
                             "p99": percentile(acks, 0.99), "max": max(acks),
                             "wall": load.wall_seconds})
                settled(url)
        finally:
            stack.cleanup()
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.pop("WHATSAPP_ACCESS_TOKEN", None)
    print(f"{args.messages} webhooks from {args.messages} senders, {args.concurrency} at a time, "
          f"{args.repeats} bursts; acknowledgement in ms")
    for kind in args.databases.split(","):
        runs = measure(kind.strip(), args.messages, args.concurrency, args.repeats)
        for number, run in enumerate(runs, 1):
            print(f"  {kind:10} burst {number}: p50 {run['p50']:6.1f}  p95 {run['p95']:6.1f}  "
                  f"p99 {run['p99']:6.1f}  max {run['max']:6.1f}  ({run['wall']:.1f} s)")
        medians = {k: statistics.median(r[k] for r in runs) for k in ("p50", "p95", "p99")}
        print(f"  {kind:10} median of bursts: p50 {medians['p50']:.1f}  p95 {medians['p95']:.1f}"
              f"  p99 {medians['p99']:.1f}")


if __name__ == "__main__":
    main()
