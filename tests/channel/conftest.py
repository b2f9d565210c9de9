"""Fixtures of the WhatsApp channel tests: a temporary database and key, the simulator, the
channel (its webhook in a bare Sanic app, with its inbox worker and outbox sender)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the project root is not on sys.path under plain `pytest`
    sys.path.insert(0, str(ROOT))

from channel_helpers import FAST, Recorder, channel_server  # noqa: E402

from channels.whatsapp.config import WhatsAppConfig  # noqa: E402
from channels.whatsapp.input import WhatsAppInput  # noqa: E402
from channels.whatsapp.tables import dispose  # noqa: E402
from simulator.serving import RunningSimulator, start_simulator  # noqa: E402
from simulator.settings import SimulatorSettings  # noqa: E402

WHATSAPP_VARS = ("WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_APP_SECRET",
                 "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_API_URL", "WHATSAPP_TEMPLATE_NAME",
                 "WHATSAPP_TEMPLATE_LANGUAGE", "WHATSAPP_REQUIRED_BROKER")


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SQLite database and data key per test, and no WhatsApp settings from outside."""
    url = f"sqlite:///{tmp_path / 'helpline.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HELPLINE_DATA_KEY", Fernet.generate_key().decode())
    for name in WHATSAPP_VARS:
        monkeypatch.delenv(name, raising=False)
    yield url
    dispose(url)  # the channel keeps connections open: close this test's


@pytest.fixture(scope="session")
def simulator_thread() -> Iterator[RunningSimulator]:
    """One simulator for the whole session, in a background thread (no webhook retries:
    its webhook target changes from test to test)."""
    with start_simulator(SimulatorSettings(retry_webhooks_for=0)) as running:
        yield running


@pytest.fixture
def sim(simulator_thread: RunningSimulator) -> RunningSimulator:
    """The simulator, emptied for this test."""
    simulator_thread.state.reset()
    return simulator_thread


@pytest.fixture
def config(sim: RunningSimulator) -> WhatsAppConfig:
    base = WhatsAppConfig.sandbox_defaults(api_url=sim.api_url)
    return WhatsAppConfig(**{**base.__dict__, "tuning": FAST})


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def channel(config: WhatsAppConfig, recorder: Recorder
                  ) -> AsyncIterator[tuple[str, WhatsAppInput]]:
    async with channel_server(config, recorder) as running:
        yield running
