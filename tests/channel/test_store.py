"""Message id claims and the 24-hour window, in the shared database."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from channels.whatsapp.dedup import claim_message, prune_claims
from channels.whatsapp.privacy import full_hash
from channels.whatsapp.tables import engine, last_inbound
from channels.whatsapp.window import (
    WINDOW_SECONDS,
    is_window_open,
    last_user_message_at,
    record_user_message,
)


def test_claim_once() -> None:
    assert claim_message("wamid.A")
    assert not claim_message("wamid.A")
    assert claim_message("wamid.B")


def test_very_long_ids_are_claimed_by_hash() -> None:
    long_id = "wamid." + "x" * 400
    assert claim_message(long_id)
    assert not claim_message(long_id)


def test_concurrent_claims_from_threads_give_one_winner() -> None:
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        results.append(claim_message("wamid.RACE"))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_prune_old_claims() -> None:
    claim_message("wamid.OLD", now=time.time() - 40 * 24 * 3600)
    claim_message("wamid.NEW")
    assert prune_claims() == 1
    assert claim_message("wamid.OLD")
    assert not claim_message("wamid.NEW")


def test_window_unknown_user_is_closed() -> None:
    assert not is_window_open("56911112222")
    assert last_user_message_at("56911112222") is None


def test_window_open_for_24_hours() -> None:
    now = time.time()
    record_user_message("56911112222", now - 3600)
    assert is_window_open("56911112222", now)
    assert is_window_open("56911112222", now - 3600 + WINDOW_SECONDS - 1)
    assert not is_window_open("56911112222", now - 3600 + WINDOW_SECONDS + 1)


def test_window_keeps_the_latest_time() -> None:
    now = time.time()
    record_user_message("56911112222", now)
    record_user_message("56911112222", now - 2 * WINDOW_SECONDS)  # a late redelivery
    assert last_user_message_at("56911112222") == now
    record_user_message("56911112222", now + 5)
    assert last_user_message_at("56911112222") == now + 5


def test_window_is_stored_without_the_phone_number() -> None:
    record_user_message("56911112222")
    with engine().connect() as conn:
        keys = [row[0] for row in conn.execute(select(last_inbound.c.user_hash))]
    assert len(keys) == 1 and "56911112222" not in keys[0]
    assert keys[0] == full_hash("56911112222")
