"""Create the handoff and console tables, and bring an existing database up to date.

Until the service is deployed under Alembic, schema changes are additive only: new tables, and
new columns that are nullable or have a server default. ``upgrade`` creates what is missing and
adds missing columns with ``ALTER TABLE ... ADD COLUMN``; it is idempotent and safe when several
processes start at once. Table names never change (the console's tables moved from
``handoff/models.py`` to ``console/models.py`` and kept theirs), so old databases keep working.

Data that older versions kept in clear is sealed in place (``handoff/sealing.py``), and audit
entries from before the hash chain are chained (``handoff/audit_chain.py``).
"""

from __future__ import annotations

import logging

from sqlalchemy import Column, MetaData, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from handoff.states import TicketStatus
from store.db import create_schema

logger = logging.getLogger(__name__)

OPEN_TICKET_INDEX = (
    "CREATE UNIQUE INDEX IF NOT EXISTS uq_handoff_open_ticket_key "
    f"ON handoff_tickets (conversation_key) WHERE status != '{TicketStatus.CLOSED.value}'"
)
KEY_INDEX = ("CREATE INDEX IF NOT EXISTS ix_handoff_tickets_conversation_key_status "
             "ON handoff_tickets (conversation_key, status)")
# indexes on the conversation id in clear: useless (and revealing) once it is sealed
OLD_INDEXES = ("uq_handoff_open_ticket", "ix_handoff_tickets_conversation_status")


def _column_ddl(column: Column, engine: Engine) -> str:
    kind = column.type.compile(dialect=engine.dialect)
    ddl = f"{column.name} {kind}"
    if column.server_default is not None:
        default = column.server_default.arg
        if not isinstance(default, str):
            default = str(default.compile(dialect=engine.dialect))
        ddl += f" DEFAULT {default}"
    if not column.nullable:
        if column.server_default is None:
            raise ValueError(f"{column.table.name}.{column.name}: a column added to an "
                             "existing table needs nullable=True or a server default")
        ddl += " NOT NULL"
    return ddl


def missing_columns(engine: Engine, metadata: MetaData) -> list[Column]:
    inspector = inspect(engine)
    missing = []
    for table in metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        missing += [c for c in table.columns if c.name not in present]
    return missing


def upgrade(engine: Engine, metadata: MetaData) -> list[str]:
    """Create missing tables and add missing columns; returns the columns added."""
    create_schema(lambda: metadata.create_all(engine))
    added = []
    for column in missing_columns(engine, metadata):
        statement = f"ALTER TABLE {column.table.name} ADD COLUMN {_column_ddl(column, engine)}"
        try:
            with engine.begin() as conn:
                conn.execute(text(statement))
            added.append(f"{column.table.name}.{column.name}")
            logger.info("Database upgraded: added column %s.%s", column.table.name, column.name)
        except SQLAlchemyError:
            # another process added it at the same moment: fine if it is there now
            if column in missing_columns(engine, metadata):
                raise
    if "handoff_tickets" in metadata.tables:
        _upgrade_queue(engine, chain_added="handoff_audit.chain_hash" in added)
    return added


def _upgrade_queue(engine: Engine, chain_added: bool) -> None:
    """Seal what is in clear; chain the old audit entries, only in the upgrade that adds the
    chain (never later: that would launder entries whose hash an insider removed)."""
    from handoff.audit_chain import seal_legacy
    from handoff.sealing import seal_existing

    seal_existing(engine)
    if chain_added:
        seal_legacy(engine)
    if engine.dialect.name not in ("sqlite", "postgresql"):
        return  # fresh databases get the model's index; the open-ticket check is in the code
    with engine.begin() as conn:
        conn.execute(text(KEY_INDEX))
        # At most one open ticket per conversation (partial index; other dialects rely on
        # open_ticket's check-then-insert). Created before the old one goes.
        conn.execute(text(OPEN_TICKET_INDEX))
        for name in OLD_INDEXES:
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
