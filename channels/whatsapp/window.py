"""The 24-hour customer service window: when did each user last write to us?

``is_window_open(conversation_id)`` is what the console calls before a free-form
reply; outside the window only a template may be sent.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import case, insert, select, update
from sqlalchemy.exc import IntegrityError

from channels.whatsapp.tables import engine, last_inbound
from store.crypto import data_keyring

WINDOW_SECONDS = 24 * 3600


def record_user_message(conversation_id: str, at: float | None = None) -> None:
    """Remember that the user wrote at ``at`` (epoch seconds); keeps the latest time."""
    at = time.time() if at is None else at
    key = data_keyring().digest(conversation_id)
    table = last_inbound
    newer = update(table).where(table.c.user_hash == key, table.c.last_message_at < at)
    for _ in range(2):
        with engine().begin() as conn:
            if conn.execute(newer.values(last_message_at=at)).rowcount:
                return
            if conn.execute(select(table.c.user_hash).where(table.c.user_hash == key)).first():
                return  # a later time is already stored
        try:
            with engine().begin() as conn:
                conn.execute(insert(table).values(user_hash=key, last_message_at=at))
            return
        except IntegrityError:
            continue  # inserted by someone else meanwhile: try the update again


def record_in(conn: Any, latest: dict[str, float]) -> None:
    """Inside the caller's transaction: {digest of her wa id: time of her message}, keeping
    the later time (one upsert statement; the webhook stores this with the message)."""
    if not latest:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    statement = dialect_insert(last_inbound)
    newer = case((statement.excluded.last_message_at > last_inbound.c.last_message_at,
                  statement.excluded.last_message_at), else_=last_inbound.c.last_message_at)
    conn.execute(statement.on_conflict_do_update(index_elements=["user_hash"],
                                                 set_={"last_message_at": newer}),
                 [{"user_hash": key, "last_message_at": at} for key, at in latest.items()])


def last_user_message_at(conversation_id: str) -> float | None:
    """Epoch seconds of the user's last message, or None if they never wrote."""
    key = data_keyring().digest(conversation_id)
    with engine().connect() as conn:
        row = conn.execute(
            select(last_inbound.c.last_message_at).where(last_inbound.c.user_hash == key)
        ).first()
    return float(row[0]) if row else None


def is_window_open(conversation_id: str, now: float | None = None) -> bool:
    """True if the user wrote less than 24 hours ago (free-form messages allowed)."""
    last = last_user_message_at(conversation_id)
    now = time.time() if now is None else now
    return last is not None and now - last < WINDOW_SECONDS
