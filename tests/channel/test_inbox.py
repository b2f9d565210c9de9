"""The inbox tables on SQLite and on a real PostgreSQL: one claim per message id, per-sender
order, exactly one worker per message under concurrency, replay of a dead worker's messages,
and the read API for the console and the privacy work."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict

import pytest
from channel_helpers import inbox_rows
from pg import temporary_database

from channels.whatsapp import inbox, instances
from channels.whatsapp.inbound import InboundKind, parse_update
from channels.whatsapp.inbox import InboxState
from channels.whatsapp.tables import engine, is_postgres
from simulator import webhooks as wh
from store.crypto import data_keyring

PHONE = "sandbox-phone-id"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, monkeypatch, database):
    """The test's SQLite database, or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        yield database
        return
    with temporary_database() as url:
        monkeypatch.setenv("DATABASE_URL", url)
        yield url


def store(*messages: dict, statuses: tuple = ()) -> None:
    inbox.store_update(parse_update(wh.update(messages=list(messages), statuses=list(statuses)),
                                    PHONE))


def text(sender: str, body: str, ts: int, wamid: str | None = None) -> dict:
    return wh.text_message(sender, body, timestamp=ts, wamid=wamid)


def test_the_message_id_is_claimed_once(db) -> None:
    message = text("56911111111", "hola", 1_700_000_000, "wamid.ONCE")
    store(message)
    store(message)
    store(message, text("56911111111", "otra", 1_700_000_001))
    assert is_postgres(engine()) == db.startswith("postgresql")
    rows = inbox_rows()
    assert len(rows) == 2 and {r.state for r in rows} == {"pending"}


def test_concurrent_deliveries_of_one_id_store_one_row(db) -> None:
    message = text("56911111111", "hola", 1_700_000_000, "wamid.RACE")
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def deliver() -> None:
        barrier.wait()
        try:
            store(message)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(inbox_rows()) == 1


def test_claim_gives_each_senders_oldest_message_and_one_per_sender(db) -> None:
    store(text("56900000001", "b", 1_700_000_005), text("56900000001", "a", 1_700_000_001),
          text("56900000002", "x", 1_700_000_003))
    first = inbox.claim("w1", 10)
    assert sorted(c.message.text for c in first) == ["a", "x"]
    assert inbox.claim("w2", 10) == []  # "b" waits for "a"
    for claimed in first:
        assert inbox.finish(claimed)
    (second,) = inbox.claim("w2", 10)
    assert second.message.text == "b" and not second.replayed


def test_same_timestamp_keeps_arrival_order(db) -> None:
    store(*(text("56900000001", f"m{i}", 1_700_000_000) for i in range(4)))
    seen = []
    while claimed := inbox.claim("w", 5):
        (one,) = claimed
        seen.append(one.message.text)
        inbox.finish(one)
    assert seen == ["m0", "m1", "m2", "m3"]


def test_a_dead_workers_messages_are_replayed(db) -> None:
    store(text("56900000001", "a", 1_700_000_001))
    instances.beat("alive")
    (taken,) = inbox.claim("dead", 1)
    assert inbox.reclaim_stale(time.time() - 5) == 1  # "dead" never beat
    (again,) = inbox.claim("alive", 1)
    assert again.replayed and again.message.text == "a"
    assert not inbox.finish(taken)  # the dead worker's claim is void
    assert inbox.finish(again)


def test_a_live_workers_messages_are_not_taken_from_it(db) -> None:
    store(text("56900000001", "a", 1_700_000_001))
    instances.beat("busy")
    inbox.claim("busy", 1)
    assert inbox.reclaim_stale(time.time() - 5) == 0


def test_give_back_does_not_count_as_an_attempt(db) -> None:
    store(text("56900000001", "a", 1_700_000_001))
    (taken,) = inbox.claim("w", 1)
    assert inbox.give_back(taken)
    (again,) = inbox.claim("w", 1)
    assert not again.replayed


def test_a_turn_that_keeps_raising_is_kept_as_failed_and_does_not_block(db) -> None:
    store(text("56900000001", "a", 1_700_000_001), text("56900000001", "b", 1_700_000_002))
    for expected in (InboxState.PENDING, InboxState.PENDING, InboxState.FAILED):
        (taken,) = inbox.claim("w", 1)
        assert taken.message.text == "a"
        assert inbox.record_failure(taken, "error:KeyError") is expected
    (next_one,) = inbox.claim("w", 1)
    assert next_one.message.text == "b"
    failed = [r for r in inbox_rows() if r.state == "failed"]
    assert failed[0].payload is not None and failed[0].detail == "error:KeyError"


def test_exactly_one_worker_per_message_in_order_under_concurrency(db) -> None:
    """Six workers (threads, each with its own connections) drain 240 messages of 24
    senders: every message once, never two of one sender at a time, each sender in order."""
    senders = [f"569{i:08d}" for i in range(24)]
    base = 1_700_000_000
    messages = [text(s, f"{s}:{k}", base + k) for k in range(10) for s in senders]
    random.Random(7).shuffle(messages)  # arrival order differs from Meta's timestamps
    for start in range(0, len(messages), 40):
        store(*messages[start:start + 40])
    done: dict[str, list[int]] = defaultdict(list)
    in_flight: set[str] = set()
    lock = threading.Lock()
    problems: list[str] = []

    def work(name: str) -> None:
        idle = 0
        while idle < 20:
            claimed = inbox.claim(name, 3)
            if not claimed:
                idle += 1
                time.sleep(0.01)
                continue
            idle = 0
            for one in claimed:
                sender, number = one.message.text.split(":")
                with lock:
                    if sender in in_flight:
                        problems.append(f"{sender} twice at once")
                    in_flight.add(sender)
                time.sleep(random.uniform(0, 0.003))
                with lock:
                    done[sender].append(int(number))
                    in_flight.discard(sender)
                if not inbox.finish(one):
                    problems.append("finish lost")

    workers = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert problems == []
    assert {s: done[s] for s in senders} == {s: list(range(10)) for s in senders}
    assert {r.state for r in inbox_rows()} == {"done"}


def test_events_for_the_console_and_the_privacy_work(db) -> None:
    her, other = "56911111111", "56922222222"
    store(wh.revoke_message(her, "wamid.DELETED"), wh.identity_change_message(her),
          wh.number_change_message(her, "56933333333"), wh.identity_change_message(other),
          wh.call_permission_reply_message(her), wh.flow_completion_message(her))
    changes = inbox.recent_identity_changes(her)
    assert [c.kind for c in changes] == [InboundKind.IDENTITY_CHANGE]
    assert changes[0].state is InboxState.SILENT
    assert inbox.recent_identity_changes(her, since=time.time() + 60) == []
    ring = data_keyring()
    assert inbox.revoked_message_digests(her) == {ring.digest("wamid.DELETED")}
    kinds = [e.kind for e in inbox.channel_events(her)]
    assert kinds == [InboundKind.REVOKE, InboundKind.IDENTITY_CHANGE, InboundKind.NUMBER_CHANGE,
                     InboundKind.CALL_PERMISSION, InboundKind.FLOW_COMPLETION]
    (change,) = inbox.channel_events(her, [InboundKind.NUMBER_CHANGE])
    assert change.related_digest == ring.digest("56933333333")
    assert inbox.claim("w", 10) == []  # none of them is a turn
    stored = " ".join(str(value) for row in inbox_rows() for value in row)
    for private in (her, other, "56933333333", "wamid.DELETED"):
        assert private not in stored


def test_prune_forgets_old_finished_rows_only(db) -> None:
    store(text("56900000001", "a", 1_700_000_001), text("56900000002", "b", 1_700_000_001))
    (one, _) = inbox.claim("w", 2)
    inbox.finish(one)
    assert inbox.prune(0, now=time.time() + 1) == 1
    assert [r.state for r in inbox_rows()] == ["processing"]


class OrderRecorder:
    """Bots of several instances that write into one list, in the order turns end."""

    def __init__(self, order: list[str]) -> None:
        from channel_helpers import Recorder

        self.order = order
        self.bot = Recorder(delay=0.01, reply="ok")

    async def __call__(self, message) -> None:
        await self.bot(message)
        self.order.append(message.text)


async def test_two_instances_behind_a_balancer_share_the_inbox(db, config, sim) -> None:
    """Webhooks alternate between two channel instances (as nginx would send them); each
    message is handled once, each sender in order, and one instance sends all replies."""
    from channel_helpers import channel_server, http_client, outbox_rows, settle

    from channels.whatsapp.window import record_user_message

    senders = [f"5698000{i:04d}" for i in range(6)]
    for sender in senders:
        record_user_message(sender)
    order: list[str] = []
    bots = [OrderRecorder(order), OrderRecorder(order)]
    now = int(time.time())
    async with channel_server(config, bots[0]) as (url_a, first):
        async with channel_server(config, bots[1]) as (url_b, second):
            async with http_client() as client:
                for k in range(4):
                    for n, sender in enumerate(senders):
                        body = wh.encode(wh.update(messages=[
                            text(sender, f"{sender}:{k}", now - 10 + k)]))
                        url = (url_a, url_b)[(k + n) % 2]
                        answer = await client.post(url, content=body, headers={
                            wh.SIGNATURE_HEADER: wh.sign(body)})
                        assert answer.status_code == 200
            for channel in (first, second):
                await settle(channel, timeout=20)
    assert sorted(order) == sorted(f"{s}:{k}" for s in senders for k in range(4))
    assert all(b.bot.messages for b in bots)  # both instances took work
    for sender in senders:
        assert [t for t in order if t.startswith(sender)] == [f"{sender}:{k}" for k in range(4)]
        assert len(sim.state.outbound(sender)) == 4
    assert len({r.taken_by for r in outbox_rows()}) == 1  # one sender for the deployment
