"""A local simulator of Meta's WhatsApp Cloud API (``python -m simulator``).

Fixture API: ``start_simulator`` (thread) / ``running_simulator`` (current loop) give a
``RunningSimulator`` with ``url``, ``api_url``, ``state``. Load generator:
``simulator.load.send_webhooks`` and ``simulator.load.wait_for_reply``.
"""

from simulator.app import create_app
from simulator.serving import (
    BackgroundServer,
    RunningSimulator,
    free_port,
    running_simulator,
    serve,
    start_simulator,
)
from simulator.settings import SimulatorSettings
from simulator.state import Fault, SimState

__all__ = [
    "BackgroundServer",
    "Fault",
    "RunningSimulator",
    "SimState",
    "SimulatorSettings",
    "create_app",
    "free_port",
    "running_simulator",
    "serve",
    "start_simulator",
]
