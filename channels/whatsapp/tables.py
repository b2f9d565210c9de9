"""The channel's tables, in the shared database of ``store/db.py`` (``DATABASE_URL``).

Nothing here holds her words or her number in the clear: message bodies, her WhatsApp id and
Meta's message ids (which encode her number) are sealed with ``store.crypto`` (Fernet), and
every lookup uses a keyed digest (``data_keyring().digest``). The exact schema and the state
enums are documented in channels/whatsapp/README.md.
"""

from __future__ import annotations

import threading

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

from store.db import create_schema, database_url, make_engine

metadata = MetaData()
DIGEST = 64  # hex characters of a keyed HMAC-SHA256

# Every inbound item of a signed webhook: her messages (the unique digest of Meta's message id
# is the atomic claim), the events that are not her words, and what could not be used.
inbox = Table(
    "whatsapp_inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # arrival order
    Column("wamid_digest", String(DIGEST), nullable=True, unique=True),
    Column("sender_digest", String(DIGEST), nullable=True),
    Column("meta_ts", BigInteger, nullable=False),  # Meta's timestamp (epoch seconds)
    Column("received_at", Float, nullable=False),
    Column("kind", String(24), nullable=False),  # inbound.InboundKind
    Column("state", String(16), nullable=False),  # inbox.InboxState
    Column("detail", String(64), nullable=True),  # machine reason: error code, type, field
    Column("related_digest", String(DIGEST), nullable=True),  # revoked/edited msg, new number
    Column("payload", Text, nullable=True),  # sealed message, only until the turn is done
    Column("taken_by", String(64), nullable=True),
    Column("claim_token", String(32), nullable=True),
    Column("taken_at", Float, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("failures", Integer, nullable=False, default=0),
    Column("done_at", Float, nullable=True),
    Index("ix_whatsapp_inbox_queue", "state", "meta_ts", "id"),
    Index("ix_whatsapp_inbox_sender", "sender_digest", "state", "meta_ts", "id"),
    Index("ix_whatsapp_inbox_claim", "claim_token"),
    Index("ix_whatsapp_inbox_related", "related_digest"),
)

# Every outbound call to the Graph API: bot turns, specialists' replies, escalation messages,
# read receipts. ``key`` makes a replayed turn or a retried console call insert nothing new.
outbox = Table(
    "whatsapp_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # order per recipient
    Column("key", String(160), nullable=False, unique=True),
    Column("recipient_digest", String(DIGEST), nullable=False),
    Column("recipient", Text, nullable=True),  # sealed wa id, until sent or failed
    Column("payload", Text, nullable=True),  # sealed message object, until sent or failed
    Column("kind", String(16), nullable=False),  # outbox.OutboundKind
    Column("source", String(32), nullable=False),  # bot, console, handoff_escalation, ...
    Column("client_ref", String(64), nullable=True),  # the caller's reference (console)
    Column("turn_digest", String(DIGEST), nullable=True),  # the inbound message it answers
    Column("state", String(16), nullable=False),  # outbox.OutboxState
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("attempted_at", Float, nullable=True),
    Column("sent_at", Float, nullable=True),
    Column("delivered_at", Float, nullable=True),
    Column("read_at", Float, nullable=True),
    Column("failed_at", Float, nullable=True),
    Column("wamid_digest", String(DIGEST), nullable=True),  # Meta's id of our message
    Column("wamid", Text, nullable=True),  # the same id, sealed (it encodes her number)
    Column("error_code", Integer, nullable=True),  # Meta's code of the final failure
    Column("failure_reason", String(32), nullable=True),  # errors.FailureReason, ours
    Column("taken_by", String(64), nullable=True),
    Index("ix_whatsapp_outbox_recipient", "recipient_digest", "state", "id"),
    Index("ix_whatsapp_outbox_queue", "state", "next_attempt_at"),
    Index("ix_whatsapp_outbox_wamid", "wamid_digest"),
    Index("ix_whatsapp_outbox_ref", "client_ref"),
    Index("ix_whatsapp_outbox_turn", "turn_digest"),
)

# One row per running channel (Rasa instance): a row whose heartbeat is stale belongs to a
# process that died, and the messages it had taken go back to the queue.
instances = Table(
    "whatsapp_instances",
    metadata,
    Column("instance_id", String(64), primary_key=True),
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
)

# Named leases (the single outbox sender of a deployment).
leases = Table(
    "whatsapp_leases",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(64), nullable=True),
    Column("expires_at", Float, nullable=False),
)

# Time of each user's last message (the 24-hour window), by keyed digest of her wa id.
last_inbound = Table(
    "whatsapp_last_inbound",
    metadata,
    Column("user_hash", String(DIGEST), primary_key=True),
    Column("last_message_at", Float, nullable=False),
)

_lock = threading.Lock()
_engines: dict[tuple[str, bool], Engine] = {}
_ready: set[str] = set()


def _sqlite_sync(engine_: Engine, level: str) -> None:
    @event.listens_for(engine_, "connect")
    def _synchronous(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA synchronous={level}")
        cursor.close()


def engine(durable: bool = False) -> Engine:
    """The channel's engine for the current ``DATABASE_URL``, with our tables created.

    On SQLite (WAL) the channel's bookkeeping uses ``synchronous=NORMAL``: a commit survives a
    killed process without waiting for the disk; the webhook's inbox write uses
    ``durable=True`` (``synchronous=FULL``), so a message answered 200 survives a power loss
    too, and that fsync also makes every earlier commit durable. PostgreSQL: its defaults.
    """
    url = database_url()
    eng = _engines.get((url, durable))
    if eng is None:
        with _lock:
            eng = _engines.get((url, durable))
            if eng is None:
                if url.startswith("sqlite"):
                    # SQLAlchemy 1.4 opens and closes a file database for every transaction
                    # (NullPool); closing a WAL database checkpoints it: keep connections.
                    eng = make_engine(url, poolclass=QueuePool, pool_size=4, max_overflow=8)
                    _sqlite_sync(eng, "FULL" if durable else "NORMAL")
                else:
                    eng = make_engine(url)
                _engines[(url, durable)] = eng
    if url not in _ready:
        with _lock:
            if url not in _ready:
                create_schema(lambda: metadata.create_all(eng))
                _ready.add(url)
    return eng


def dispose(url: str) -> None:
    """Close the channel's connections to ``url`` (tests dropping a database)."""
    with _lock:
        for key in [k for k in _engines if k[0] == url]:
            _engines.pop(key).dispose()
        _ready.discard(url)


def is_postgres(eng: Engine) -> bool:
    return eng.dialect.name == "postgresql"


def insert_ignoring_duplicates(conn, table: Table, rows: list[dict], key: str) -> None:
    """INSERT ``rows``, skipping those whose unique ``key`` already exists (one statement)."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover - other databases: one savepoint per row
        from sqlalchemy import insert
        from sqlalchemy.exc import IntegrityError

        for row in rows:
            try:
                with conn.begin_nested():
                    conn.execute(insert(table).values(**row))
            except IntegrityError:
                pass
        return
    conn.execute(dialect_insert(table).on_conflict_do_nothing(index_elements=[key]), rows)
