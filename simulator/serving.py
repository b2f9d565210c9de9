"""Run Sanic apps on a free local port: in the current event loop or in a thread.

Used by the tests (the simulator, and a bare app with the channel's blueprint) and by
the benchmarks.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sanic import Sanic

from simulator.app import create_app
from simulator.settings import API_VERSION, SimulatorSettings
from simulator.state import SimState


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def free_port(host: str = "127.0.0.1") -> int:
    with bind(host) as sock:
        return sock.getsockname()[1]


@asynccontextmanager
async def serve(app: Sanic, host: str = "127.0.0.1", port: int = 0,
                sock: socket.socket | None = None) -> AsyncIterator[str]:
    """Serve ``app`` in the running loop; yields its base URL (``http://host:port``).

    ``sock`` may be a socket bound beforehand (see ``bind``), to know the URL early."""
    # Sanic 21.12 rewrites some of its methods at the first startup ("touchup"); a second
    # app in the same process then fails unless test mode keeps the originals.
    Sanic.test_mode = True
    sock = sock or bind(host, port)
    host = sock.getsockname()[0]
    url = f"http://{host}:{sock.getsockname()[1]}"
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    assert server is not None  # create_server already awaited it: the socket is listening
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield url
    finally:
        await server.before_stop()
        for connection in list(server.connections):
            connection.close_if_idle()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        sock.close()


class BackgroundServer:
    """``serve`` in a daemon thread with its own loop (for synchronous code and tests)."""

    def __init__(self, app: Sanic, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app, self.host, self.port = app, host, port
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"serve-{app.name}")

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self.app, self.host, self.port) as url:
            self.url = url
            self._ready.set()
            await self._stop.wait()

    def start(self, timeout: float = 15.0) -> str:
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise RuntimeError(f"server did not start: {self._error!r}")
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def __enter__(self) -> BackgroundServer:
        self.start()
        return self

    def __exit__(self, *args: object) -> None:
        self.stop()


@dataclass
class RunningSimulator:
    """A started simulator: its URLs, settings and in-memory state."""

    url: str
    settings: SimulatorSettings
    state: SimState
    _server: Any = field(default=None, repr=False)

    @property
    def api_url(self) -> str:
        """What WHATSAPP_API_URL should be for the channel to use this simulator."""
        return f"{self.url}/{API_VERSION}"

    @property
    def faults_url(self) -> str:
        return f"{self.url}/_sim/faults"

    def stop(self) -> None:
        if isinstance(self._server, BackgroundServer):
            self._server.stop()

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(self, *args: object) -> None:
        self.stop()


def start_simulator(settings: SimulatorSettings | None = None, *, port: int = 0,
                    **overrides: Any) -> RunningSimulator:
    """Start the simulator in a background thread on a free port (stop() or use ``with``)."""
    settings = settings or SimulatorSettings.from_env(**overrides)
    state = SimState()
    server = BackgroundServer(create_app(settings, state), port=port)
    url = server.start()
    return RunningSimulator(url, settings, state, server)


@asynccontextmanager
async def running_simulator(settings: SimulatorSettings | None = None, *, port: int = 0,
                            **overrides: Any) -> AsyncIterator[RunningSimulator]:
    """The simulator served in the current event loop (for async tests)."""
    settings = settings or SimulatorSettings.from_env(**overrides)
    state = SimState()
    async with serve(create_app(settings, state), port=port) as url:
        yield RunningSimulator(url, settings, state)
