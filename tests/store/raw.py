"""Reading a database the way a thief with a copy would: every cell of every table, and
(for SQLite) the bytes of the files themselves."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa


def every_cell(url: str) -> list[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    cells: list[str] = []
    try:
        with engine.connect() as connection:
            for table in sa.inspect(connection).get_table_names():
                for row in connection.execute(sa.text(f'SELECT * FROM "{table}"')):
                    cells.extend("" if value is None else str(value) for value in row)
    finally:
        engine.dispose()
    return cells


def file_bytes(url: str) -> bytes:
    """The SQLite file and its write-ahead log, as bytes (empty for other databases)."""
    if not url.startswith("sqlite:///"):
        return b""
    path = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def leaks(url: str, secrets: list[str]) -> list[str]:
    """Which of ``secrets`` a copy of the database shows in clear."""
    cells = "\n".join(every_cell(url)).lower()
    raw = file_bytes(url).lower()
    found = []
    for secret in secrets:
        needle = secret.lower()
        if needle in cells or needle.encode("utf-8") in raw:
            found.append(secret)
    return found
