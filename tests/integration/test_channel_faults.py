"""Nothing acknowledged is lost, nothing is answered twice: the real stack (Rasa with the
WhatsApp channel, the action server, SQLite) under kill -9, with the simulator playing Meta
(signed webhooks delivered again until they get a 200, statuses with our callback data).

- 200 messages from 40 senders; Rasa is killed with SIGKILL mid-burst and started again;
- the same burst; the action server is killed mid-burst and started again;
- the Graph API fails for a while: the outbox holds and delivers everything, in order;
- events that are not her words get no answer, and media waiting for a specialist neither.

Each burst checks: every message in her tracker exactly once and in order, every message
answered, no reply sent twice (Meta's callback data of every send is unique), replies in the
order of her messages, and a ticket for every emergency. Meta's pair-rate spacing is lifted
(WHATSAPP_PAIR_BURST) so that 40 conversations of 5 quick messages fit in the time limit.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.engine import Connection

from channels.whatsapp import recent_identity_changes, revoked_message_digests
from channels.whatsapp.inbox import InboxState
from channels.whatsapp.tables import inbox, outbox
from handoff.queue import HandoffQueue
from simulator import webhooks as wh
from simulator.serving import RunningSimulator, start_simulator
from simulator.settings import SimulatorSettings
from stack import Stack, StackPorts
from store.crypto import KeyRing, parse_keys
from store.db import make_engine

pytestmark = pytest.mark.integration

SENDERS, PER_SENDER = 40, 5
CALM = ["hola", "como puedo hacer una denuncia", "gracias", "hola", "gracias"]
EMERGENCY = "me esta pegando ahora ayudaaa"
SETTLE_TIMEOUT = 150.0


@dataclass
class Faulty:
    stack: Stack
    sim: RunningSimulator
    ring: KeyRing
    database_url: str

    def engine(self):
        return make_engine(self.database_url)


@pytest.fixture(scope="module")
def faulty() -> Iterator[Faulty]:
    key = Fernet.generate_key().decode()
    ports = StackPorts.free()
    webhook = f"http://127.0.0.1:{ports.rasa}/webhooks/whatsapp/webhook"
    sim = start_simulator(SimulatorSettings(webhook_url=webhook, send_statuses=True,
                                            retry_max_delay=1.0), port=ports.simulator)
    env_token = os.environ.pop("WHATSAPP_ACCESS_TOKEN", None)
    stack = Stack(ports=ports, simulator=False, console=False, rest=False, extra_env={
        "WHATSAPP_API_URL": sim.api_url, "HELPLINE_DATA_KEY": key,
        "WHATSAPP_STALE_SECONDS": "4", "WHATSAPP_RECONCILE_SECONDS": "15",
        "WHATSAPP_SEND_MAX_BACKOFF": "2", "WHATSAPP_PAIR_BURST": "100"})
    try:
        stack.start()
        with stack.data_key_here():  # the tests read her tickets from the queue
            yield Faulty(stack, sim, KeyRing(tuple(parse_keys(key))), stack.env()["DATABASE_URL"])
    finally:
        stack.cleanup()
        sim.stop()
        if env_token is not None:
            os.environ["WHATSAPP_ACCESS_TOKEN"] = env_token


# --- her messages -----------------------------------------------------------------------------

@dataclass
class Burst:
    plan: dict[str, list[str]]
    wamids: dict[str, list[str]] = field(default_factory=dict)
    acked: int = 0


def plan_for(prefix: int, senders: int = SENDERS, emergencies_every: int = 4
             ) -> dict[str, list[str]]:
    """Each sender writes PER_SENDER messages; every fourth ends with an emergency."""
    plan = {}
    for i in range(senders):
        texts = list(CALM)
        if i % emergencies_every == 0:
            texts[-1] = EMERGENCY
        plan[f"569{prefix:02d}{i:06d}"] = texts
    return plan


async def deliver_like_meta(client: httpx.AsyncClient, url: str, body: bytes) -> None:
    """Post until the webhook answers 200 (Meta retries for days; here two minutes)."""
    deadline, delay = time.monotonic() + 120, 0.2
    headers = {wh.SIGNATURE_HEADER: wh.sign(body), "Content-Type": "application/json"}
    while True:
        try:
            if (await client.post(url, content=body, headers=headers)).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the webhook never accepted a message")
        await asyncio.sleep(delay)
        delay = min(2.0, delay * 1.5)


async def send_burst(url: str, burst: Burst, at_ack: int | None = None,
                     fault: threading.Thread | None = None) -> None:
    """Every sender writes her messages one after another, all senders at once; after
    ``at_ack`` acknowledgements the ``fault`` thread starts (kill -9 and restart)."""
    base = int(time.time()) - 10

    async def one(client: httpx.AsyncClient, sender: str, texts: list[str]) -> None:
        burst.wamids[sender] = []
        for index, text in enumerate(texts):
            message = wh.text_message(sender, text, timestamp=base + index)
            await deliver_like_meta(client, url, wh.encode(wh.update(messages=[message])))
            burst.wamids[sender].append(message["id"])
            burst.acked += 1
            if fault is not None and burst.acked == at_ack:
                fault.start()

    limits = httpx.Limits(max_connections=SENDERS)
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:
        await asyncio.gather(*(one(client, s, t) for s, t in burst.plan.items()))


def poll_database(faulty: Faulty, check: Callable[[Connection], str | None], timeout: float,
                  interval: float) -> str | None:
    """Run ``check`` every ``interval`` s, each time on a new snapshot, until it finds nothing
    wrong (None) or ``timeout`` passed; returns its last complaint."""
    deadline = time.monotonic() + timeout
    with faulty.engine().connect() as conn:
        while True:
            problem = check(conn)
            conn.rollback()  # the next look sees what was committed since
            if problem is None or time.monotonic() > deadline:
                return problem
            time.sleep(interval)


def wait_for_a_turn_in_flight(faulty: Faulty, timeout: float = 60.0) -> None:
    """Until some message is being processed, so that the kill cuts a turn (with a fixed
    count of acknowledgements, a slow machine could still be storing webhooks then). If none
    is, the test's own check of the cut turn says so."""
    processing = select(inbox.c.id).where(inbox.c.state == InboxState.PROCESSING.value).limit(1)
    poll_database(faulty, lambda conn: None if conn.execute(processing).first() else "idle",
                  timeout, interval=0.01)


# --- what happened --------------------------------------------------------------------------

def wait_until_settled(faulty: Faulty, burst: Burst, timeout: float = SETTLE_TIMEOUT) -> None:
    digests = [faulty.ring.digest(w) for ws in burst.wamids.values() for w in ws]

    def unsettled(conn: Connection) -> str | None:
        states = Counter(conn.execute(select(inbox.c.state).where(
            inbox.c.wamid_digest.in_(digests))).scalars())
        open_out = conn.execute(select(outbox.c.id).where(
            outbox.c.state.in_(["pending", "sending"])).limit(1)).first()
        if states.get("done") == len(digests) and open_out is None:
            return None
        return f"inbox {dict(states)}, outbox open {open_out is not None}"

    problem = poll_database(faulty, unsettled, timeout, interval=0.5)
    if problem is not None:
        logs = (faulty.stack.log_dir / "rasa.log").read_text(errors="replace")[-3000:]
        raise AssertionError(f"not settled: {problem}\n{logs}")


def tracker_message_ids(faulty: Faulty, sender: str) -> list[str]:
    answer = httpx.get(f"{faulty.stack.rasa_url}/conversations/{sender}/tracker",
                       params={"token": faulty.stack.api_token}, timeout=30)
    answer.raise_for_status()
    return [e.get("message_id") for e in answer.json()["events"] if e["event"] == "user"]


def check_exactly_once_in_order(faulty: Faulty, burst: Burst) -> None:
    with faulty.engine().connect() as conn:
        rows = conn.execute(select(outbox.c.id, outbox.c.turn_digest, outbox.c.state)
                            .where(outbox.c.kind == "message")).all()
    turn_of = {f"ob.{r.id}": r.turn_digest for r in rows}
    assert {r.state for r in rows} == {"sent"}
    callbacks = [e.get("callback") for e in faulty.sim.state.outbound()]
    duplicates = [c for c, n in Counter(callbacks).items() if n > 1]
    assert duplicates == [], f"{len(duplicates)} replies sent twice"
    for sender, wamids in burst.wamids.items():
        # her tracker holds each message once, in her order: no turn ran twice
        assert tracker_message_ids(faulty, sender) == wamids, sender
        index = {faulty.ring.digest(w): i for i, w in enumerate(wamids)}
        turns = [index.get(turn_of.get(e.get("callback"))) for e in
                 faulty.sim.state.outbound(sender)]
        answered = [t for t in turns if t is not None]
        assert set(answered) == set(range(len(wamids))), f"{sender}: unanswered messages"
        assert answered == sorted(answered), f"{sender}: replies out of order"


def replayed(faulty: Faulty, burst: Burst) -> int:
    """Messages of the burst taken a second time (a worker died holding them)."""
    digests = [faulty.ring.digest(w) for ws in burst.wamids.values() for w in ws]
    with faulty.engine().connect() as conn:
        return len(conn.execute(select(inbox.c.id).where(
            inbox.c.wamid_digest.in_(digests), inbox.c.attempts >= 2)).all())


def check_emergency_tickets(faulty: Faulty, burst: Burst) -> None:
    queue = HandoffQueue(faulty.engine())
    for sender, texts in burst.plan.items():
        if EMERGENCY in texts:
            ticket = queue.open_ticket_for(sender)
            assert ticket is not None and ticket.level == "emergency", sender


# --- the tests -----------------------------------------------------------------------------

def test_rasa_killed_mid_burst_loses_nothing_and_answers_once(faulty: Faulty) -> None:
    burst = Burst(plan_for(10))

    def kill_and_restart() -> None:
        wait_for_a_turn_in_flight(faulty)
        faulty.stack.kill("rasa")
        faulty.stack.restart("rasa")

    fault = threading.Thread(target=kill_and_restart)
    asyncio.run(send_burst(faulty.stack.webhook_url, burst, at_ack=60, fault=fault))
    fault.join(240)
    assert burst.acked == SENDERS * PER_SENDER
    wait_until_settled(faulty, burst)
    assert replayed(faulty, burst) >= 1, "the kill did not cut any turn"
    check_exactly_once_in_order(faulty, burst)
    check_emergency_tickets(faulty, burst)


def test_action_server_killed_mid_burst_loses_nothing_and_answers_once(faulty: Faulty) -> None:
    burst = Burst(plan_for(20))

    def kill_and_restart() -> None:
        faulty.stack.kill("actions")
        time.sleep(2.0)  # down for a while
        faulty.stack.restart("actions")

    fault = threading.Thread(target=kill_and_restart)
    asyncio.run(send_burst(faulty.stack.webhook_url, burst, at_ack=60, fault=fault))
    fault.join(120)
    wait_until_settled(faulty, burst)
    rasa_log = (faulty.stack.log_dir / "rasa.log").read_text(errors="replace")
    assert "action server unreachable" in rasa_log, "no turn met the dead action server"
    check_exactly_once_in_order(faulty, burst)
    check_emergency_tickets(faulty, burst)


def test_graph_api_failing_for_a_while_delivers_everything_afterwards_in_order(
        faulty: Faulty) -> None:
    burst = Burst(plan_for(30, senders=10, emergencies_every=5))
    httpx.post(faulty.sim.faults_url, json={"for_seconds": 6, "http_status": 503},
               timeout=5).raise_for_status()
    started = time.monotonic()
    asyncio.run(send_burst(faulty.stack.webhook_url, burst))
    time.sleep(max(0.0, 3 - (time.monotonic() - started)))
    with faulty.engine().connect() as conn:  # during the outage: held, none given up
        states = set(conn.execute(select(outbox.c.state)).scalars())
    assert "failed" not in states and states & {"pending", "sending"}
    wait_until_settled(faulty, burst)
    faults = [c for c in faulty.sim.state.api_calls if c["kind"] == "fault"]
    assert faults, "the outage was not exercised"
    check_exactly_once_in_order(faulty, burst)
    check_emergency_tickets(faulty, burst)


# --- what is not her words ------------------------------------------------------------------

def post_now(faulty: Faulty, message: dict) -> None:
    async def go() -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            await deliver_like_meta(client, faulty.stack.webhook_url,
                                    wh.encode(wh.update(messages=[message])))
    asyncio.run(go())


def replies_after(faulty: Faulty, her: str, seen: int, count: int = 1,
                  quiet: float = 0.0, timeout: float = 30.0) -> list[str]:
    """Wait for ``count`` new messages to her (then ``quiet`` seconds more); their texts."""
    deadline = time.monotonic() + timeout
    while len(faulty.sim.state.outbound(her)) < seen + count:
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    time.sleep(quiet)
    return [e["text"] for e in faulty.sim.state.outbound(her)[seen:]]


def test_events_that_are_not_her_words_get_no_answer(faulty: Faulty, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", faulty.database_url)
    monkeypatch.setenv("HELPLINE_DATA_KEY", faulty.stack.extra_env["HELPLINE_DATA_KEY"])
    her = "56940000001"
    first = wh.text_message(her, "hola")
    post_now(faulty, first)
    seen = len(replies_after(faulty, her, 0, count=2))
    assert seen >= 1
    for event in (wh.revoke_message(her, first["id"]), wh.identity_change_message(her),
                  wh.call_permission_reply_message(her), wh.flow_completion_message(her),
                  wh.reaction_message(her, first["id"]),
                  wh.number_change_message(her, "56940000002")):
        post_now(faulty, event)
    assert replies_after(faulty, her, seen, quiet=4.0, timeout=0) == []  # her phone stays dark
    assert len(recent_identity_changes(her)) == 1
    assert revoked_message_digests(her) == {faulty.ring.digest(first["id"])}

    post_now(faulty, wh.voice_message(her))  # a voice note: the domain's text-only answer
    (answer,) = replies_after(faulty, her, seen, quiet=2.0)
    assert "solo puedo leer mensajes escritos" in answer and "1455" in answer
    seen += 1

    post_now(faulty, wh.text_message(her, "quiero hablar con una persona"))
    seen += len(replies_after(faulty, her, seen, quiet=1.0))
    post_now(faulty, wh.text_message(her, "si"))
    seen += len(replies_after(faulty, her, seen, quiet=1.0))
    assert HandoffQueue(faulty.engine()).open_ticket_for(her) is not None
    for _ in range(2):  # waiting for a specialist: media gets the text-only answer, once
        post_now(faulty, wh.voice_message(her))
    (answer,) = replies_after(faulty, her, seen, quiet=4.0)
    assert "solo puedo leer mensajes escritos" in answer
