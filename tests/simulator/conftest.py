"""Fixtures of the simulator tests: a fake webhook receiver standing in for our channel."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the project root is not on sys.path under plain `pytest`
    sys.path.insert(0, str(ROOT))

from sim_helpers import Receiver  # noqa: E402

from simulator.serving import RunningSimulator, bind, running_simulator, serve  # noqa: E402


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, Receiver]]:
    fake = Receiver()
    async with serve(fake.app(), sock=bind()) as url:
        yield f"{url}/webhook", fake


@pytest.fixture
async def sim(receiver: tuple[str, Receiver]) -> AsyncIterator[RunningSimulator]:
    url, _ = receiver
    async with running_simulator(webhook_url=url) as running:
        yield running
