"""Claim each WhatsApp message id once, atomically, across every Rasa server."""

from __future__ import annotations

import time

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from channels.whatsapp.privacy import full_hash
from channels.whatsapp.tables import engine, seen_messages

MAX_KEY_LENGTH = 255


def _key(wamid: str) -> str:
    return wamid if len(wamid) <= MAX_KEY_LENGTH else "sha256:" + full_hash(wamid)


def claim_message(wamid: str, now: float | None = None) -> bool:
    """True for the first caller with this id; False for every redelivery."""
    row = {"wamid": _key(wamid), "claimed_at": now if now is not None else time.time()}
    try:
        with engine().begin() as conn:
            conn.execute(insert(seen_messages).values(**row))
    except IntegrityError:
        return False
    return True


def prune_claims(older_than_seconds: float = 30 * 24 * 3600) -> int:
    """Forget claims older than Meta's redelivery horizon; returns rows removed."""
    cutoff = time.time() - older_than_seconds
    with engine().begin() as conn:
        result = conn.execute(delete(seen_messages).where(seen_messages.c.claimed_at < cutoff))
    return result.rowcount or 0
