"""The channel's tables, in the shared database of ``store/db.py`` (``DATABASE_URL``)."""

from __future__ import annotations

import threading

from sqlalchemy import Column, Float, Integer, MetaData, String, Table
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from store.db import database_url, shared_engine

metadata = MetaData()

# One row per WhatsApp message id ever processed: the primary key is the atomic claim.
seen_messages = Table(
    "whatsapp_seen_messages",
    metadata,
    Column("wamid", String(255), primary_key=True),
    Column("claimed_at", Float, nullable=False),
)

# Time of each user's last message, keyed by the sha256 of the wa id (conversation id).
last_inbound = Table(
    "whatsapp_last_inbound",
    metadata,
    Column("user_hash", String(64), primary_key=True),
    Column("last_message_at", Float, nullable=False),
)

# Delivery statuses of our outgoing messages (no phone numbers, no content).
message_statuses = Table(
    "whatsapp_message_statuses",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("wamid", String(255), nullable=False, index=True),
    Column("status", String(32), nullable=False),
    Column("error_code", Integer, nullable=True),
    Column("recorded_at", Float, nullable=False),
)

_lock = threading.Lock()
_ready: set[str] = set()


def engine() -> Engine:
    """The shared engine for the current ``DATABASE_URL``, with our tables created."""
    url = database_url()
    eng = shared_engine(url)
    if url not in _ready:
        with _lock:
            if url not in _ready:
                try:
                    metadata.create_all(eng)
                except SQLAlchemyError:  # another process created them at the same moment
                    metadata.create_all(eng)
                _ready.add(url)
    return eng
