from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from handoff.queue import HandoffQueue  # noqa: E402
from store.db import make_engine  # noqa: E402


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'helpline.db'}"


@pytest.fixture
def queue(db_url: str) -> HandoffQueue:
    engine = make_engine(db_url)
    yield HandoffQueue(engine)
    engine.dispose()
