"""The Redis lock store shared by Rasa instances: one ticket per request even when two
instances ask at the same moment, one turn at a time per conversation, and no phone number
in Redis."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator

import pytest
import redis
from cryptography.fernet import Fernet

from stack.services import redis_problem
from store.crypto import KeyRing
from store.lock_store import HelplineRedisLockStore

PHONE = "56912345678"


@pytest.fixture()
def prefix() -> Iterator[str]:
    problem = redis_problem()
    if problem:
        pytest.skip(f"{problem}: Redis lock store tests skipped")
    name = "t" + secrets.token_hex(6)
    yield name
    client = redis.Redis(host="127.0.0.1", port=6379, db=1)
    for key in client.scan_iter(match=f"{name}:*"):
        client.delete(key)


@pytest.fixture()
def ring() -> KeyRing:
    return KeyRing((Fernet.generate_key(),))


def make(prefix: str, ring: KeyRing) -> HelplineRedisLockStore:
    """One Rasa instance's lock store (its own Redis connection)."""
    return HelplineRedisLockStore(host="127.0.0.1", port=6379, db=1, key_prefix=prefix,
                                  keyring=ring)


def test_two_instances_asking_at_once_never_get_the_same_ticket(prefix, ring):
    stores = [make(prefix, ring), make(prefix, ring)]
    lock_id = ring.digest(PHONE)
    tickets: list[int] = []
    start = threading.Barrier(2)

    def ask(store: HelplineRedisLockStore) -> None:
        start.wait()
        for _ in range(150):
            tickets.append(store.issue_ticket(lock_id, 60))

    threads = [threading.Thread(target=ask, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tickets) == 300 and len(set(tickets)) == 300


async def test_one_turn_at_a_time_per_conversation_across_instances(prefix, ring):
    stores = [make(prefix, ring) for _ in range(3)]
    inside: list[int] = []
    overlaps: list[tuple] = []
    order: list[int] = []

    async def turn(store: HelplineRedisLockStore, number: int) -> None:
        async with store.lock(PHONE):
            inside.append(number)
            if len(inside) > 1:
                overlaps.append(tuple(inside))
            await asyncio.sleep(0.02)
            order.append(number)
            inside.remove(number)

    await asyncio.gather(*(turn(stores[i % 3], i) for i in range(12)))
    assert overlaps == [] and sorted(order) == list(range(12))
    client = redis.Redis(host="127.0.0.1", port=6379, db=1)
    assert list(client.scan_iter(match=f"{prefix}:*")) == []  # every lock given back


async def test_redis_never_holds_the_phone_number(prefix, ring):
    store = make(prefix, ring)
    client = redis.Redis(host="127.0.0.1", port=6379, db=1)
    async with store.lock(PHONE):
        keys = [k.decode() for k in client.scan_iter(match=f"{prefix}:*")]
        values = [client.get(k).decode() for k in keys]
    assert keys == [f"{store.key_prefix}{ring.digest(PHONE)}"]
    assert all(PHONE not in text for text in keys + values)


async def test_a_turn_longer_than_the_lifetime_keeps_its_lock_and_the_waiter_its_place(
        prefix, ring):
    """Rasa's tickets expire ``lifetime`` after they were issued, so a long turn would share
    the conversation with the next and a long wait would end in LockError. Renewed tickets
    expire only when their instance stops renewing them."""
    first, second = make(prefix, ring), make(prefix, ring)
    inside: list[str] = []
    overlaps: list[list[str]] = []

    async def turn(store: HelplineRedisLockStore, name: str, hold: float) -> None:
        async with store.lock(PHONE, lock_lifetime=0.6):
            inside.append(name)
            if len(inside) > 1:
                overlaps.append(list(inside))
            await asyncio.sleep(hold)
            inside.remove(name)

    async def later() -> None:
        await asyncio.sleep(0.1)
        await turn(second, "second", 0.1)

    await asyncio.gather(turn(first, "first", 1.8), later())
    assert overlaps == []


async def test_the_lock_of_a_dead_instance_frees_itself_after_the_lifetime(prefix, ring):
    dead, alive = make(prefix, ring), make(prefix, ring)
    dead.issue_ticket(ring.digest(PHONE), 0.5)  # took the lock, then was killed: no renewal
    async with alive.lock(PHONE, lock_lifetime=0.5):
        pass  # acquired once the dead ticket expired (a LockError or a hang would fail)
