"""A throwaway PostgreSQL database for one test module (skipped where PostgreSQL is absent)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://root@127.0.0.1:5432/test")


@contextmanager
def temporary_database() -> Iterator[str]:
    """CREATE DATABASE t_<random>, yield its URL, then DROP it (connections included)."""
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        admin = psycopg2.connect(ADMIN_URL, connect_timeout=3)
    except psycopg2.OperationalError as error:
        pytest.skip(f"PostgreSQL not reachable at {ADMIN_URL}: {error}")
    admin.autocommit = True
    name = f"t_canal_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        from channels.whatsapp.tables import dispose

        dispose(url)
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
