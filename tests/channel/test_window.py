"""The 24-hour window, in the shared database, keyed by a keyed digest of her number."""

from __future__ import annotations

import time

from sqlalchemy import select

from channels.whatsapp.tables import engine, last_inbound
from channels.whatsapp.window import (
    WINDOW_SECONDS,
    is_window_open,
    last_user_message_at,
    record_user_message,
)
from store.crypto import data_keyring


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


def test_window_is_stored_by_keyed_digest_without_the_phone_number() -> None:
    record_user_message("56911112222")
    with engine().connect() as conn:
        keys = [row[0] for row in conn.execute(select(last_inbound.c.user_hash))]
    assert keys == [data_keyring().digest("56911112222")]
