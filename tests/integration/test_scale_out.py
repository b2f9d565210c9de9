"""Scale-out faults: two Rasa instances behind nginx, sharing PostgreSQL and Redis.

A burst of 200 messages from 40 senders goes through the signed webhook (as Meta sends it:
each sender's messages in order, a non-200 answer re-delivered with the same message id).
Checked from what the system stored and what the phones received:

- every message is in her conversation exactly once, in the order she wrote;
- every message got its answer, and every answer reached her phone exactly once;
- every emergency has its ticket;
- no conversation was handled by two instances at once: each turn's events (Rasa stamps
  them while it holds the conversation's lock) end before the next turn's begin, and no
  lock is left in Redis.

Then the same with ``kill -9`` of one instance mid-burst, and with ``kill -9`` of the webhook
receiver mid-burst (nginx then gives the webhooks to the instances, which serve the same
webhook).

nginx sends the webhooks to the webhook receiver (channels/whatsapp/receiver.py), which stores
them and wakes the instances in turn; both instances' workers take the turns.

The channel stores every message in the database inbox before answering 200, and the
instances' workers take each sender's messages in order (channels/whatsapp/inbox.py), so a
turn cut by the kill is replayed by the other instance.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis
from cryptography.fernet import Fernet
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from sqlalchemy import func, select

from channels.whatsapp.inbox import InboxState
from channels.whatsapp.tables import inbox
from handoff.queue import HandoffQueue
from simulator import webhooks as wh
from stack import Stack, StackPorts
from stack import nginx as nginx_binary
from stack.services import postgres_problem, redis_problem, temporary_database
from stack.topology import PRODUCTION_ENDPOINTS
from store.crypto import KeyRing
from store.db import make_engine
from store.tracker_store import EncryptedSQLTrackerStore

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SENDERS = 40
EMERGENCY = "ayuda me esta pegando ahora"
CALM = ["hola", "como denuncio", "que es la violencia economica", "gracias"]


def texts_for(index: int) -> list[str]:
    """Five messages; every fourth sender ends with an emergency."""
    return [*CALM, EMERGENCY if index % 4 == 0 else "como hago un plan de seguridad"]


@dataclass
class Burst:
    senders: dict[str, list[str]]
    acks: dict[str, int] = field(default_factory=dict)  # wamid -> final status
    attempts: int = 0
    killed: str | None = None


@pytest.fixture(scope="module")
def cluster() -> Iterator[Stack]:
    for problem in (postgres_problem(), redis_problem()):
        if problem:
            pytest.skip(f"scale-out tests need PostgreSQL and Redis: {problem}")
    if nginx_binary.binary() is None:
        pytest.skip("scale-out tests need nginx: apt-get install nginx-light (make nginx-deps)")
    prefix = "t" + secrets.token_hex(6)
    with temporary_database(prefix="t_scale") as url:
        stack = Stack(ports=StackPorts.free(instances=2), endpoints=PRODUCTION_ENDPOINTS,
                      rasa_instances=2, simulator=True,
                      # as Meta does: a send cut by the kill is then known as sent by its
                      # status, not sent again (channels/whatsapp/sender.py)
                      simulator_statuses=True,
                      extra_env={"DATABASE_URL": url, "REDIS_KEY_PREFIX": prefix,
                                 "HELPLINE_DATA_KEY": Fernet.generate_key().decode()})
        try:
            stack.start(timeout=300)
            with stack.data_key_here():  # this process reads tickets too
                yield stack
        finally:
            stack.cleanup()
            client = redis.Redis(host="127.0.0.1", port=6379, db=1)
            for key in client.scan_iter(match=f"{prefix}:*"):
                client.delete(key)


# --- sending, as Meta does -------------------------------------------------------------------
async def _deliver(client: httpx.AsyncClient, stack: Stack, body: bytes, burst: Burst) -> int:
    """POST until 200, re-delivering the same bytes after a non-200 (Meta's retries)."""
    headers = {"Content-Type": "application/json", wh.SIGNATURE_HEADER: wh.sign(body)}
    status = 0
    for attempt in range(12):
        burst.attempts += 1
        try:
            status = (await client.post(stack.webhook_url, content=body, headers=headers)).status_code
        except httpx.HTTPError:
            status = 0
        if status == 200:
            return status
        await asyncio.sleep(min(4.0, 0.25 * 2 ** attempt))
    return status


async def _sender(client, stack, wa_id, texts, burst, sent, gap):
    rng = random.Random(wa_id)
    base = int(time.time())
    for position, text in enumerate(texts):
        wamid = wh.new_wamid()
        message = wh.text_message(wa_id, text, wamid=wamid, timestamp=base + position)
        body = wh.encode(wh.update(messages=[message]))
        burst.acks[wamid] = await _deliver(client, stack, body, burst)
        sent.append(wamid)
        await asyncio.sleep(gap * (0.5 + rng.random()))


async def _burst(stack: Stack, phase: int, kill_after: int | None, gap: float = 0.2,
                 victim: str = "rasa-2") -> Burst:
    senders = {f"5699{phase}{i:06d}": texts_for(i) for i in range(SENDERS)}
    burst = Burst(senders)
    sent: list[str] = []

    async def killer() -> None:
        while len(sent) < kill_after:
            await asyncio.sleep(0.05)
        burst.killed = victim
        stack.child(victim).kill()

    limits = httpx.Limits(max_connections=SENDERS)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        jobs = [_sender(client, stack, wa_id, texts, burst, sent, gap)
                for wa_id, texts in senders.items()]
        if kill_after is not None:
            jobs.append(killer())
        await asyncio.gather(*jobs)
    return burst


# --- reading what happened ---------------------------------------------------------------
def _store(stack: Stack) -> EncryptedSQLTrackerStore:
    env = stack.env()
    domain = Domain.load(str(ROOT / "domain.yml"))
    return EncryptedSQLTrackerStore(domain, host=env["DATABASE_URL"], cache_size=0,
                                    keyring=KeyRing((env["HELPLINE_DATA_KEY"].encode(),)))


async def _conversations(stack: Stack, burst: Burst, timeout: float = 120.0,
                         quiet: float = 15.0) -> dict[str, list]:
    """Each sender's stored events, once every sent message is in a tracker, or nothing new
    was stored for ``quiet`` seconds (lost messages never come), or ``timeout``."""
    store = _store(stack)
    deadline = time.monotonic() + timeout
    stored, changed = -1, time.monotonic()
    while True:
        events = {}
        for wa_id in burst.senders:
            tracker = await store.retrieve_full_tracker(wa_id)
            events[wa_id] = list(tracker.events) if tracker else []
        total = sum(isinstance(e, UserUttered) for evs in events.values() for e in evs)
        if total != stored:
            stored, changed = total, time.monotonic()
        expected = sum(len(texts) for texts in burst.senders.values())
        now = time.monotonic()
        if total >= expected or now > deadline or now - changed > quiet:
            await asyncio.sleep(3)  # let the last turns finish
            return events
        await asyncio.sleep(1)


def _phone(stack: Stack, wa_id: str) -> list[dict]:
    answer = httpx.get(f"{stack.simulator_url}/_sim/conversations/{wa_id}", timeout=10)
    return [e for e in answer.json()["events"] if e["direction"] == "out"]


def _shown(message: dict) -> str:
    """The text a phone shows for one outgoing message (text, or an interactive body)."""
    body = message.get("message", {})
    if body.get("type") == "text":
        return body.get("text", {}).get("body", "")
    return body.get("interactive", {}).get("body", {}).get("text", body.get("type", ""))


def _turns(events: list) -> list[tuple[float, float]]:
    """(first, last) event time of each turn: a user message and what followed it."""
    turns: list[list[float]] = []
    for event in events:
        if isinstance(event, UserUttered):
            turns.append([event.timestamp, event.timestamp])
        elif turns:
            turns[-1][1] = max(turns[-1][1], event.timestamp)
    return [(a, b) for a, b in turns]


@dataclass
class Outcome:
    burst: Burst
    events: dict[str, list]
    phones: dict[str, list[dict]]

    def user_texts(self, wa_id: str) -> list[str]:
        return [e.text for e in self.events[wa_id] if isinstance(e, UserUttered)]

    def missing_or_duplicated(self) -> dict[str, list[str]]:
        return {w: self.user_texts(w) for w, texts in self.burst.senders.items()
                if sorted(self.user_texts(w)) != sorted(texts)}

    def out_of_order(self) -> dict[str, list[str]]:
        """Senders whose messages are all there once, but not in the order she wrote."""
        return {w: self.user_texts(w) for w, texts in self.burst.senders.items()
                if sorted(self.user_texts(w)) == sorted(texts) and self.user_texts(w) != texts}

    def unanswered(self) -> dict[str, list[str]]:
        """Senders with a message that got no bot message before her next one."""
        result = {}
        for wa_id, events in self.events.items():
            silent, pending = [], None
            for event in events:
                if isinstance(event, UserUttered):
                    if pending is not None:
                        silent.append(pending)
                    pending = event.text
                elif isinstance(event, BotUttered):
                    pending = None
            if pending is not None:
                silent.append(pending)
            if silent:
                result[wa_id] = silent
        return result

    def delivery_mismatch(self) -> dict[str, tuple[int, int, list[str], list[str]]]:
        """Senders whose phone did not get each stored bot message exactly once: (stored,
        received, the stored texts, the received texts), to see which one differs."""
        result = {}
        for wa_id, events in self.events.items():
            stored = [(e.text or "")[:40] for e in events if isinstance(e, BotUttered)]
            received = [_shown(m)[:40] for m in self.phones[wa_id]]
            if len(stored) != len(received):
                result[wa_id] = (len(stored), len(received), stored, received)
        return result

    def overlapping_turns(self) -> dict[str, list[tuple[float, float]]]:
        result = {}
        for wa_id, events in self.events.items():
            turns = _turns(events)
            if any(nxt[0] < cur[1] for cur, nxt in zip(turns, turns[1:], strict=False)):
                result[wa_id] = turns
            stamps = [e.timestamp for e in events]
            if stamps != sorted(stamps):
                result.setdefault(wa_id, turns)
        return result


def _phones(stack: Stack, events: dict[str, list], timeout: float = 90.0) -> dict[str, list]:
    """What each phone received, once it holds every stored answer or after ``timeout``.

    The sender paces messages to one phone as Meta requires (a short burst, then one every
    few seconds: channels/whatsapp/pacing.py), so after a burst the last answers of a busy
    conversation reach her phone some seconds after they were stored."""
    deadline = time.monotonic() + timeout
    while True:
        phones = {w: _phone(stack, w) for w in events}
        behind = [w for w, evs in events.items()
                  if len(phones[w]) < sum(isinstance(e, BotUttered) for e in evs)]
        if not behind or time.monotonic() > deadline:
            return phones
        time.sleep(1)


def _outcome(stack: Stack, burst: Burst) -> Outcome:
    events = asyncio.run(_conversations(stack, burst))
    return Outcome(burst, events, _phones(stack, events))


@pytest.fixture(scope="module")
def calm_burst(cluster: Stack) -> Outcome:
    return _outcome(cluster, asyncio.run(_burst(cluster, phase=1, kill_after=None)))


@pytest.fixture(scope="module")
def killed_burst(cluster: Stack, calm_burst: Outcome) -> Outcome:
    burst = asyncio.run(_burst(cluster, phase=2, kill_after=SENDERS * 5 // 3))
    try:
        return _outcome(cluster, burst)
    finally:
        cluster.start_rasa("rasa-2")  # leave the cluster whole for whatever runs next


@pytest.fixture(scope="module")
def receiver_killed_burst(cluster: Stack, killed_burst: Outcome) -> Outcome:
    burst = asyncio.run(_burst(cluster, phase=3, kill_after=SENDERS * 5 // 3, victim="receiver"))
    try:
        return _outcome(cluster, burst)
    finally:
        cluster.restart("receiver")


# --- two instances, no fault -------------------------------------------------------------
def test_both_instances_took_part_and_every_webhook_was_acknowledged(cluster, calm_burst):
    assert set(calm_burst.burst.acks.values()) == {200}
    access = (cluster.log_dir / "nginx-access.log").read_text(encoding="utf-8")
    upstreams = {line.split()[3] for line in access.splitlines() if " POST " in line}
    assert upstreams == {f"{cluster.local_host}:{cluster.ports.receiver}"}  # the receiver
    with make_engine(cluster.env()["DATABASE_URL"]).connect() as conn:
        takers = conn.execute(select(inbox.c.taken_by, func.count())
                              .where(inbox.c.state == InboxState.DONE.value).group_by(inbox.c.taken_by)).all()
    assert len(takers) == 2, takers  # both instances' workers ran turns


def test_each_message_stored_once_and_answered_once(calm_burst):
    assert calm_burst.missing_or_duplicated() == {}
    assert calm_burst.delivery_mismatch() == {}
    assert calm_burst.unanswered() == {}


def test_each_conversation_kept_her_order(calm_burst):
    assert calm_burst.out_of_order() == {}


def test_every_emergency_has_its_ticket(cluster, calm_burst):
    queue = HandoffQueue(make_engine(cluster.env()["DATABASE_URL"]))
    missing = [w for w, texts in calm_burst.burst.senders.items()
               if texts[-1] == EMERGENCY and (queue.open_ticket_for(w) is None
                                              or queue.open_ticket_for(w).level != "emergency")]
    assert missing == []


def test_no_conversation_was_handled_by_two_instances_at_once(cluster, calm_burst):
    assert calm_burst.overlapping_turns() == {}
    prefix = cluster.env()["REDIS_KEY_PREFIX"]
    left = list(redis.Redis(host="127.0.0.1", port=6379, db=1).scan_iter(match=f"{prefix}:*"))
    assert left == []  # every lock was given back (and none is named by a phone number)


def test_the_tracker_table_shows_neither_texts_nor_numbers(cluster, calm_burst):
    """Rasa's ``events`` table on PostgreSQL, read raw (the queue's tables are read raw by
    tests/handoff/test_sealed_queue.py, the channel's by tests/channel/)."""
    import sqlalchemy as sa

    engine = sa.create_engine(cluster.env()["DATABASE_URL"], poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM events")).all()
    engine.dispose()
    cells = "\n".join("" if v is None else str(v) for row in rows for v in row)
    assert len(rows) > SENDERS * 5
    # words shorter than 8 letters turn up by chance in this much base64 («hola»: ~1 in 20)
    phrases = [t for t in {*CALM, EMERGENCY} if len(t) >= 8]
    assert len(phrases) >= 3 and [t for t in phrases if t in cells] == []
    assert [w for w in calm_burst.burst.senders if w in cells] == []


# --- kill -9 of one instance mid-burst --------------------------------------------------------
def test_the_killed_instance_died_mid_burst_and_the_other_took_over(killed_burst):
    assert killed_burst.burst.killed == "rasa-2"
    assert set(killed_burst.burst.acks.values()) == {200}  # nginx + re-delivery: all acked


def test_after_kill_no_conversation_was_handled_by_two_instances_at_once(killed_burst):
    assert killed_burst.overlapping_turns() == {}


def test_after_kill_every_message_stored_once_in_order_and_answered_once(killed_burst):
    assert killed_burst.missing_or_duplicated() == {}
    assert killed_burst.out_of_order() == {}
    assert killed_burst.unanswered() == {}
    assert killed_burst.delivery_mismatch() == {}


def test_after_kill_every_emergency_has_its_ticket(cluster, killed_burst):
    queue = HandoffQueue(make_engine(cluster.env()["DATABASE_URL"]))
    missing = [w for w, texts in killed_burst.burst.senders.items()
               if texts[-1] == EMERGENCY and queue.open_ticket_for(w) is None]
    assert missing == []


# --- kill -9 of the webhook receiver mid-burst: nginx gives the webhooks to the instances ---
def test_with_the_receiver_killed_every_webhook_was_still_acknowledged(cluster,
                                                                       receiver_killed_burst):
    assert receiver_killed_burst.burst.killed == "receiver"
    assert set(receiver_killed_burst.burst.acks.values()) == {200}
    access = (cluster.log_dir / "nginx-access.log").read_text(encoding="utf-8")
    instances = {f"{cluster.local_host}:{port}" for port in cluster.ports.instance_ports(2)}
    upstreams = {line.split()[3] for line in access.splitlines() if " POST " in line}
    assert upstreams & instances  # the instances' own webhook took over


def test_with_the_receiver_killed_every_message_stored_once_in_order_and_answered_once(
        cluster, receiver_killed_burst):
    assert receiver_killed_burst.missing_or_duplicated() == {}
    assert receiver_killed_burst.out_of_order() == {}
    assert receiver_killed_burst.unanswered() == {}
    assert receiver_killed_burst.delivery_mismatch() == {}
    queue = HandoffQueue(make_engine(cluster.env()["DATABASE_URL"]))
    missing = [w for w, texts in receiver_killed_burst.burst.senders.items()
               if texts[-1] == EMERGENCY and queue.open_ticket_for(w) is None]
    assert missing == []
