"""Issue 8 point 6: throughput, CPU, turn latency over a long conversation, memory and a
turn profile, on the production topology (two Rasa instances behind nginx, PostgreSQL,
Redis), beside Rasa's own starter bot on the same machine in the same run.

Everything runs ``repeats`` times where a median is reported; ratios use figures of this
run only. Measured:

- closed loop (40 senders, 20 at a time, each waiting for the whole answer before writing
  again): the project through the webhook on 1 instance and on 2 instances (nginx), the
  project on Rasa's REST channel, the starter bot on REST; the figure is project / starter;
- sustained messages per second at p95 ≤ 1 s (rate ladder) for the same three project paths;
- CPU milliseconds per message (Rasa, action server, webhook receiver, nginx), PostgreSQL
  transactions and Redis commands per message;
- webhook acknowledgement times during the closed loops and ladders: «webhook-1» is answered
  by instance 1 itself, between its turns; «webhook-2» by the webhook receiver behind nginx;
- turn latency at messages 2–11 and 191–200 of a conversation, measured in alternation
  (REST, instance 1);
- RSS of an instance on Rasa's defaults (rasa-1) and of one with ``TUNED_ENV`` (rasa-2);
- a pyinstrument profile of turns (in this process; the HTML goes to results/).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from bench import loads, procstat, starter_bot, turn_profile
from bench.graph_sink import GraphSink
from bench.targets import RestTarget, WebhookTarget
from simulator.serving import free_port
from stack import Stack, StackPorts
from stack import nginx as nginx_binary
from stack.services import postgres_problem, redis_problem, temporary_database
from stack.topology import PRODUCTION_ENDPOINTS

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ["hola", "como denuncio", "que es la violencia economica", "gracias"]
LADDER_TEXTS = ["como denuncio", "que es la violencia economica", "gracias",
                "como hago un plan de seguridad"]
RATES = [3.0, 5.0, 7.0, 10.0, 14.0, 20.0, 28.0, 40.0]
# settings tried on the second instance for memory (Rasa's defaults on the first)
TUNED_ENV = {"MALLOC_ARENA_MAX": "2", "TF_INTRA_OP_PARALLELISM_THREADS": "1",
             "TF_INTER_OP_PARALLELISM_THREADS": "1"}


def progress(message: str) -> None:
    print(f"[bench scale] {message}", flush=True)


class Meters:
    """CPU of the stack's process groups, PostgreSQL transactions, Redis commands."""

    def __init__(self, children: list, database_url: str) -> None:
        self.children, self.database_url = children, database_url

    def groups(self) -> dict[str, int]:
        return {c.name: c.pid for c in self.children if c.alive()}

    def read(self) -> dict[str, float]:
        import redis
        import sqlalchemy as sa

        values = {name: procstat.cpu_seconds(procstat.group_pids(pid))
                  for name, pid in self.groups().items()}
        engine = sa.create_engine(self.database_url, poolclass=sa.pool.NullPool,
                                   hide_parameters=True)
        with engine.connect() as connection:
            row = connection.execute(sa.text(
                "SELECT xact_commit + xact_rollback, tup_inserted, tup_returned + tup_fetched "
                "FROM pg_stat_database WHERE datname = current_database()")).one()
        engine.dispose()
        values["pg_transactions"], values["pg_rows_written"], values["pg_rows_read"] = map(
            float, row)
        values["redis_commands"] = float(
            redis.Redis(host="127.0.0.1", port=6379).info("stats")["total_commands_processed"])
        return values


async def _measured(meters: Meters, job) -> dict[str, Any]:
    before = meters.read()
    result = await job
    after = meters.read()
    n = max(1, result["messages"])
    delta = {k: after[k] - before.get(k, 0.0) for k in after}
    result["cpu_ms_per_message"] = {k: 1000 * v / n for k, v in delta.items()
                                    if not k.startswith(("pg_", "redis_"))}
    result["per_message"] = {k: v / n for k, v in delta.items()
                             if k.startswith(("pg_", "redis_"))}
    return result


async def _prewarm(target, senders: list[str], text: str = "hola") -> None:
    slots = asyncio.Semaphore(10)

    async def one(sender: str) -> None:
        async with slots:
            await target.send(sender, text)

    await asyncio.gather(*(one(s) for s in senders))


def _ids(tag: int, count: int) -> list[str]:
    return [f"569{tag:03d}{i:05d}" for i in range(count)]


async def _closed_loops(targets: dict, meters: dict[str, Meters], repeats: int,
                        tag: int) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {name: [] for name in targets}
    for repeat in range(repeats):
        for name, (target, script) in targets.items():
            tag += 1
            progress(f"closed loop {name}, run {repeat + 1}/{repeats}")
            result = await _measured(meters[name], loads.closed_loop(
                target, _ids(tag, 40), script, concurrency=20))
            result.pop("latencies")
            runs[name].append(result)
            await asyncio.sleep(2)
    return runs


async def _ladders(targets: dict, repeats: int, tag: int) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {}
    for name, target in targets.items():
        senders = _ids(tag, 120)
        tag += 1
        progress(f"ladder {name}: opening 120 conversations")
        await _prewarm(target, senders)
        runs[name] = []
        start = 0
        for repeat in range(repeats):
            progress(f"ladder {name}, run {repeat + 1}/{repeats}")
            result = await loads.ladder(target, senders, LADDER_TEXTS, RATES[start:])
            runs[name].append(result)
            if result["sustained_rate"] in RATES:
                start = max(0, RATES.index(result["sustained_rate"]) - 1)
    return runs


async def _long_conversations(target: RestTarget, repeats: int, tag: int,
                              length: int = 200) -> list[dict]:
    """Turns 191–200 of one conversation against turns 2–11 of a new one, measured in
    alternation (one early turn, one late turn) so that whatever else the machine does at
    that moment weighs on both sides alike."""
    runs = []
    for repeat in range(repeats):
        late_sender, early_sender = _ids(tag + 2 * repeat, 1)[0], _ids(tag + 2 * repeat + 1, 1)[0]
        for i in range(length - 10):
            await target.send(late_sender, "hola" if i == 0 else LADDER_TEXTS[i % len(LADDER_TEXTS)])
        await target.send(early_sender, "hola")
        early: list[float] = []
        late: list[float] = []
        for k in range(10):
            for sender, index, samples in ((early_sender, k + 1, early),
                                           (late_sender, length - 10 + k, late)):
                started = time.perf_counter()
                await target.send(sender, LADDER_TEXTS[index % len(LADDER_TEXTS)])
                samples.append(time.perf_counter() - started)
        ratio = statistics.median(late) / statistics.median(early)
        runs.append({"messages": length, "median_2_to_11_seconds": statistics.median(early),
                     "median_191_to_200_seconds": statistics.median(late), "ratio": ratio})
        progress(f"long conversation {repeat + 1}/{repeats}: ratio {ratio:.2f}")
    return runs


def _wait_http(url: str, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"nothing answered at {url}")


def problems() -> list[str]:
    found = [p for p in (postgres_problem(), redis_problem()) if p]
    if nginx_binary.binary() is None:
        found.append(nginx_binary.INSTALL_HINT)
    return found


async def _run(stack: Stack, sink: GraphSink, starter, starter_url: str, database_url: str,
               repeats: int, model: Path, log_dir: Path) -> dict[str, Any]:
    rasa_1, nginx_url = stack.instance_urls[0], stack.rasa_url
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=60)) as session:
        one = WebhookTarget(f"{rasa_1}/webhooks/whatsapp/webhook", sink, session, name="webhook-1")
        two = WebhookTarget(f"{nginx_url}/webhooks/whatsapp/webhook", sink, session,
                            name="webhook-2", expected=one.expected)
        rest = RestTarget(rasa_1, session, name="rest-1")
        baseline = RestTarget(starter_url, session, name="starter")
        progress("learning how many messages each answer has")
        await one.learn(_ids(900, 1)[0], SCRIPT + LADDER_TEXTS)
        one.acks.clear()
        project_meters = Meters(stack.children, database_url)
        starter_meters = Meters([starter], database_url)
        closed = await _closed_loops(
            {"webhook-1": (one, SCRIPT), "webhook-2": (two, SCRIPT), "rest-1": (rest, SCRIPT),
             "starter": (baseline, starter_bot.SCRIPT)},
            {"webhook-1": project_meters, "webhook-2": project_meters,
             "rest-1": project_meters, "starter": starter_meters}, repeats, tag=100)
        ladders = await _ladders({"webhook-1": one, "webhook-2": two, "rest-1": rest},
                                 repeats, tag=200)
        long_runs = await _long_conversations(rest, repeats, tag=300)
    memory = {c.name: procstat.rss_bytes(procstat.group_pids(c.pid))
              for c in [*stack.children, starter]}
    progress("profiling turns in this process")
    profile = await turn_profile.run(model, PRODUCTION_ENDPOINTS, LADDER_TEXTS, 40,
                                     ROOT / "results" / "turn_profile.html")
    return {"answer_messages": dict(one.expected),
            "closed_loop": closed, "ladder": ladders, "long_conversation": long_runs,
            "ack_seconds": {target.name: target.acks for target in (one, two)},
            "rss_bytes": memory, "tuned_env_on_rasa_2": TUNED_ENV, "profile": profile}


def run(model: Path, repeats: int = 3) -> dict[str, Any]:
    found = problems()
    if found:
        raise RuntimeError("scale benchmarks need PostgreSQL, Redis and nginx: " + "; ".join(found))
    from cryptography.fernet import Fernet

    prefix = "bench" + secrets.token_hex(4)
    key = Fernet.generate_key().decode()
    with temporary_database(prefix="t_bench") as database_url:
        async def main() -> dict[str, Any]:
            sink = await GraphSink().start()
            stack = Stack(ports=StackPorts.free(instances=2), model=model,
                          endpoints=PRODUCTION_ENDPOINTS, rasa_instances=2, simulator=False,
                          rest=True, console=False, instance_env={"rasa-2": TUNED_ENV},
                          extra_env={"DATABASE_URL": database_url, "REDIS_KEY_PREFIX": prefix,
                                     "HELPLINE_DATA_KEY": key, "WHATSAPP_API_URL": sink.api_url})
            starter = None
            try:
                project = await asyncio.to_thread(starter_bot.trained_project,
                                                  starter_bot.CACHE.parent / "init.log")
                progress(f"starting two instances behind nginx (logs in {stack.log_dir})")
                await asyncio.to_thread(stack.start, 300)
                port = free_port()
                starter = starter_bot.start(project, port, stack.env(), stack.log_dir)
                await asyncio.to_thread(_wait_http, f"http://127.0.0.1:{port}/")
                for name in ("DATABASE_URL", "REDIS_KEY_PREFIX", "HELPLINE_DATA_KEY",
                             "ACTION_SERVER_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_DB",
                             "REDIS_PASSWORD", "TRACKER_CACHE_SIZE", "RASA_URL",
                             "RASA_API_TOKEN", "ACTION_SERVER_TOKEN"):
                    os.environ[name] = stack.env()[name]
                return await _run(stack, sink, starter, f"http://127.0.0.1:{port}",
                                  database_url, repeats, model, stack.log_dir)
            finally:
                if starter is not None:
                    from stack.children import stop_all
                    stop_all([starter])
                await asyncio.to_thread(stack.cleanup)
                await sink.stop()

        try:
            return asyncio.run(main())
        finally:
            import redis

            client = redis.Redis(host="127.0.0.1", port=6379, db=1)
            for stale in client.scan_iter(match=f"{prefix}:*"):
                client.delete(stale)
