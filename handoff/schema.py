"""Create the handoff and console tables, and bring an existing database up to date.

Until the service is deployed under Alembic, schema changes are additive only: new tables, and
new columns that are nullable or have a server default. ``upgrade`` creates what is missing and
adds missing columns with ``ALTER TABLE ... ADD COLUMN``; it is idempotent and safe when several
processes start at once. Table names never change (the console's tables moved from
``handoff/models.py`` to ``console/models.py`` and kept theirs), so old databases keep working.
"""

from __future__ import annotations

import logging

from sqlalchemy import Column, MetaData, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from handoff.states import TicketStatus

logger = logging.getLogger(__name__)

OPEN_TICKET_INDEX = (
    "CREATE UNIQUE INDEX IF NOT EXISTS uq_handoff_open_ticket "
    f"ON handoff_tickets (conversation_id) WHERE status != '{TicketStatus.CLOSED.value}'"
)


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
    try:
        metadata.create_all(engine)
    except SQLAlchemyError:  # another process created some tables at the same moment
        metadata.create_all(engine)
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
    if engine.dialect.name in ("sqlite", "postgresql"):
        # At most one open ticket per conversation (partial index; other dialects rely on
        # open_ticket's check-then-insert).
        with engine.begin() as conn:
            conn.execute(text(OPEN_TICKET_INDEX))
    return added
