"""SQLAlchemy errors never show statement parameters (they may be her words or her number)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from store.db import make_engine

SECRET = "me pega cuando toma 56987654321"


def failing_insert(engine: sa.engine.Engine) -> str:
    """The text of the error of an INSERT that breaks a constraint, with SECRET as a value."""
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE IF NOT EXISTS t (v TEXT UNIQUE)"))
        connection.execute(sa.text("INSERT INTO t (v) VALUES (:v)"), {"v": SECRET})
    with pytest.raises(sa.exc.IntegrityError) as caught, engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO t (v) VALUES (:v)"), {"v": SECRET})
    return str(caught.value)


def test_our_engines_hide_parameters(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert SECRET not in failing_insert(engine)
    finally:
        engine.dispose()


def test_a_plain_engine_would_show_them(tmp_path) -> None:
    """The check above can fail: SQLAlchemy's default prints the parameters."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'y.db'}")
    try:
        assert SECRET in failing_insert(engine)
    finally:
        engine.dispose()


def test_the_tracker_store_engine_hides_parameters(make_store) -> None:
    store = make_store()
    assert store.engine.hide_parameters is True
    assert store.sessionmaker.kw["bind"] is store.engine
