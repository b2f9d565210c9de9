"""Upgrade an existing queue database whose personal data is still in clear (interim, until
Alembic): her number, safe-contact answer, screening answers and the reason in
``handoff_tickets`` and the notes' text get sealed in place, every ticket gets its ``conversation_key``, and the audit
entries written before the hash chain get chained. Idempotent, and safe when several
processes start at once (every row update is conditional on the row still being in clear).

SQLite keeps the old bytes of rewritten rows in free pages: after sealing, the file is
vacuumed. PostgreSQL keeps them in dead tuples until its vacuum runs (``VACUUM FULL
handoff_tickets, handoff_notes`` after upgrading a database that held data in clear).
"""

from __future__ import annotations

import json
import logging

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from store.crypto import data_keyring
from store.crypto_types import SEALED_PREFIX, looks_sealed

logger = logging.getLogger(__name__)

FORGOTTEN = "purged:"  # the conversation id (and key) of a ticket whose content is gone
SEALED_COLUMNS = {"handoff_tickets": ("conversation_id", "safe_contact", "screening", "reason"),
                  "handoff_notes": ("text",)}


def conversation_key(conversation_id: str) -> str:
    """The lookup key of a conversation's tickets: a keyed digest, never the number."""
    if conversation_id.startswith(FORGOTTEN):
        return conversation_id
    return data_keyring().digest(f"ticket:{conversation_id}")


def widen_sealed_columns(engine: Engine) -> None:
    """PostgreSQL: tokens are longer than VARCHAR(128)/(200) and are not JSON: make them TEXT."""
    if engine.dialect.name != "postgresql":
        return
    inspector = inspect(engine)
    for table, columns in SEALED_COLUMNS.items():
        if not inspector.has_table(table):
            continue
        kinds = {c["name"]: str(c["type"]).upper() for c in inspector.get_columns(table)}
        for column in columns:
            if column in kinds and kinds[column] != "TEXT":
                with engine.begin() as conn:
                    conn.execute(text(f"ALTER TABLE {table} ALTER COLUMN {column} "
                                      f"TYPE TEXT USING {column}::text"))


def _seal(value: str | None) -> str | None:
    if value is None or looks_sealed(value):
        return value
    return data_keyring().encrypt_text(value)


def _seal_screening(value: str | None) -> str | None:
    if value is None or looks_sealed(value):
        return value
    return None if json.loads(value) is None else data_keyring().encrypt_text(value)


def _seal_tickets(conn: Connection) -> int:
    rows = conn.execute(text("SELECT id, conversation_id, safe_contact, screening, reason "
                             "FROM handoff_tickets WHERE conversation_key IS NULL")).all()
    for row in rows:
        plain = row.conversation_id
        if looks_sealed(plain):
            plain = data_keyring().decrypt_text(plain)
        conn.execute(text(
            "UPDATE handoff_tickets SET conversation_id = :cid, conversation_key = :key, "
            "safe_contact = :contact, screening = :screening, reason = :reason "
            "WHERE id = :id AND conversation_key IS NULL"),
            {"id": row.id, "cid": _seal(row.conversation_id), "key": conversation_key(plain),
             "contact": _seal(row.safe_contact), "screening": _seal_screening(row.screening),
             "reason": _seal(row.reason or "")})
    return len(rows)


def _seal_notes(conn: Connection) -> int:
    # a token starts with «gAAAAA»; a specialist's note never does in practice
    rows = conn.execute(text("SELECT id, text FROM handoff_notes WHERE text NOT LIKE :prefix"),
                        {"prefix": f"{SEALED_PREFIX}%"}).all()
    for row in rows:
        conn.execute(text("UPDATE handoff_notes SET text = :sealed WHERE id = :id AND "
                          "text = :plain"),
                     {"id": row.id, "plain": row.text,
                      "sealed": data_keyring().encrypt_text(row.text)})
    return len(rows)


def _vacuum(engine: Engine) -> None:
    """SQLite: rewrite the file so that no free page keeps the old plain rows."""
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("VACUUM"))
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    except OperationalError:  # busy: another process holds the database
        logger.warning("Queue data sealed, but VACUUM could not run: run it by hand so that "
                       "the old plain rows leave the file")


def seal_existing(engine: Engine) -> int:
    """Seal what an older version left in clear; returns the rows sealed."""
    widen_sealed_columns(engine)
    tables = set(inspect(engine).get_table_names())
    if not {"handoff_tickets", "handoff_notes"} <= tables:
        return 0
    with engine.begin() as conn:
        sealed = _seal_tickets(conn) + _seal_notes(conn)
    if sealed:
        logger.info("Database upgraded: %d queue rows sealed at rest", sealed)
        if engine.dialect.name == "sqlite":
            _vacuum(engine)
    return sealed
