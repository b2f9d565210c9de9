"""Review queue fixtures: a store on its own SQLite file and key, and the capture writer
pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from store.crypto import KeyRing
from store.db import make_engine
from training import capture
from training.items import ReviewStore


@pytest.fixture
def keyring() -> KeyRing:
    return KeyRing((Fernet.generate_key(),))


@pytest.fixture
def review(tmp_path: Path, keyring: KeyRing) -> Iterator[ReviewStore]:
    engine = make_engine(f"sqlite:///{tmp_path / 'review.db'}")
    store = ReviewStore(engine, keyring)
    capture.writer.store = store
    yield store
    capture.flush()
    capture.writer.store = None
    engine.dispose()
