"""The external services of the production topology: PostgreSQL and Redis.

They are not started here (a deployment runs its own; development machines and CI run them
at 127.0.0.1:5432 and 127.0.0.1:6379). This module gives their default addresses, checks that
they answer, and makes throw-away databases for tests and benchmarks (the machine is shared:
never use the tables of the default database from a test).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

DEFAULT_POSTGRES_DB = "test"
DEFAULT_REDIS_HOST = "127.0.0.1"
DEFAULT_REDIS_PORT = 6379


def default_database_url() -> str:
    """PostgreSQL on this machine, database ``test``, as the current user (trust auth)."""
    user = os.environ.get("PGUSER") or getpass.getuser()
    return f"postgresql://{user}@127.0.0.1:5432/{DEFAULT_POSTGRES_DB}"


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def postgres_problem(url: str | None = None) -> str | None:
    """None when PostgreSQL at ``url`` accepts a query; otherwise why not (in English)."""
    import sqlalchemy as sa

    url = url or default_database_url()
    parts = urlsplit(url)
    if not answers(parts.hostname or "127.0.0.1", parts.port or 5432):
        return f"PostgreSQL is not listening at {parts.hostname}:{parts.port or 5432}"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, hide_parameters=True)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure means "not usable"
        return f"PostgreSQL at {parts.hostname}:{parts.port} refused: {type(error).__name__}"
    finally:
        engine.dispose()
    return None


def redis_problem(host: str = DEFAULT_REDIS_HOST, port: int = DEFAULT_REDIS_PORT) -> str | None:
    import redis

    try:
        redis.Redis(host=host, port=port, socket_timeout=2).ping()
    except Exception as error:  # noqa: BLE001
        return f"Redis is not answering at {host}:{port} ({type(error).__name__})"
    return None


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@contextlib.contextmanager
def temporary_database(base_url: str | None = None, prefix: str = "t") -> Iterator[str]:
    """A new, uniquely named PostgreSQL database (``t_<random>``), dropped afterwards.
    Yields its URL."""
    import sqlalchemy as sa

    base_url = base_url or default_database_url()
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = sa.create_engine(base_url, poolclass=sa.pool.NullPool,
                             isolation_level="AUTOCOMMIT", hide_parameters=True)
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(base_url, name)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
