"""Console test harness: a fake Rasa HTTP server and the console on free ports."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from sanic import Sanic

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from console.app import create_app  # noqa: E402
from console.config import Settings  # noqa: E402
from console.security import hash_password  # noqa: E402
from handoff.queue import HandoffQueue  # noqa: E402
from simulator.serving import free_port  # noqa: E402
from store.db import make_engine  # noqa: E402

# Several apps start in one process: Sanic's test mode keeps its method rewriting re-entrant.
Sanic.test_mode = True

TOKEN = "rasa-secret-token"
PASSWORD = "clave-segura-123"


def _served_responses() -> dict[str, Any]:
    """The responses of the real domain.yml, as Rasa's GET /domain serves them."""
    import yaml

    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]


@dataclass
class FakeRasa:
    """Records every request; serves trackers from ``self.trackers`` the way Rasa does:
    events after the last ``restart`` unless ``include_events=ALL``."""

    url: str = ""
    trackers: dict[str, dict[str, Any]] = field(default_factory=dict)
    posted: list[dict[str, Any]] = field(default_factory=list)
    fail: bool = False
    fail_posts: bool = False  # reads work, writes fail (a half-broken Rasa)
    fail_events: set[str] = field(default_factory=set)  # event types whose POST fails
    responses: dict[str, Any] = field(default_factory=_served_responses)

    def events_for(self, conversation_id: str) -> list[dict[str, Any]]:
        return [p["body"] for p in self.posted if p["conversation_id"] == conversation_id]


def _fake_rasa_handler(fake: FakeRasa) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self) -> tuple[str | None, str, dict[str, list[str]]]:
            parts = urlsplit(self.path)
            match = re.fullmatch(r"/conversations/([^/]+)/(tracker(?:/events)?|execute)",
                                 parts.path)
            if parts.path == "/domain":
                return "", "domain", parse_qs(parts.query)
            if not match:
                return None, "", {}
            return unquote(match.group(1)), match.group(2), parse_qs(parts.query)

        def do_GET(self) -> None:  # noqa: N802
            conversation_id, what, query = self._route()
            if fake.fail:
                return self._reply(500, {"error": "down"})
            if conversation_id is None or what not in ("tracker", "domain") \
                    or query.get("token") != [TOKEN]:
                return self._reply(401, {"error": "unauthorized"})
            if what == "domain":
                return self._reply(200, {"responses": fake.responses})
            tracker = dict(fake.trackers.get(conversation_id, {"sender_id": conversation_id,
                                                                "events": []}))
            events = tracker.get("events") or []
            if query.get("include_events") != ["ALL"]:
                restarts = [i for i, e in enumerate(events) if e.get("event") == "restart"]
                if restarts:
                    events = events[restarts[-1]:]
            tracker["events"] = events
            return self._reply(200, tracker)

        def do_POST(self) -> None:  # noqa: N802
            conversation_id, what, query = self._route()
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            if fake.fail or fake.fail_posts:
                return self._reply(500, {"error": "down"})
            if conversation_id is None or what != "tracker/events" \
                    or query.get("token") != [TOKEN]:
                return self._reply(401, {"error": "unauthorized"})
            events = body if isinstance(body, list) else [body]
            if any(e.get("event") in fake.fail_events for e in events):
                return self._reply(500, {"error": "down"})
            for event in events:
                fake.posted.append({"conversation_id": conversation_id, "body": event,
                                    "query": {k: v[0] for k, v in query.items()}})
                tracker = fake.trackers.setdefault(conversation_id, {"events": []})
                tracker["events"].append(event)
                if event.get("event") in ("pause", "resume"):
                    tracker["paused"] = event["event"] == "pause"
            return self._reply(200, fake.trackers[conversation_id])

    return Handler


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _fake_rasa_handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


class RunningConsole:
    def __init__(self, app: Any, queue: HandoffQueue) -> None:
        self.app = app
        self.queue = queue
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> Any:
            server = await self.app.create_server(
                host="127.0.0.1", port=self.port, return_asyncio_server=True, access_log=False
            )
            await server.startup()
            await server.before_start()
            await server.after_start()
            return server

        self._server = self._loop.run_until_complete(start())
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> RunningConsole:
        self._thread.start()
        assert self._ready.wait(10), "console did not start"
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            await self._server.before_stop()
            self._server.close()
            await self._server.wait_closed()
            await self._server.after_stop()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def _digest(value: str) -> str:
    import hashlib

    return hashlib.sha256(f"test-key:{value}".encode()).hexdigest()


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[HandoffQueue]:
    engine = make_engine(f"sqlite:///{tmp_path / 'helpline.db'}")
    yield HandoffQueue(engine, digest=_digest)
    engine.dispose()


def console_settings(fake: FakeRasa, **overrides: Any) -> Settings:
    # supervisors' second factor: tests/console/test_console_hardening.py
    values = {"rasa_url": fake.url, "rasa_token": TOKEN, "use_channel_window": False,
              "secret": "console-test-secret", "totp_supervisors": False, **overrides}
    return Settings(**values)


def start_console(queue: HandoffQueue, fake: FakeRasa, **kwargs: Any) -> RunningConsole:
    settings = kwargs.pop("settings", None) or console_settings(fake)
    app = create_app(queue=queue, settings=settings, scrypt_n=2**10, **kwargs)
    return RunningConsole(app, queue).start()


@pytest.fixture
def console(queue: HandoffQueue, fake_rasa: FakeRasa) -> Iterator[RunningConsole]:
    running = start_console(queue, fake_rasa)
    yield running
    running.stop()


def make_agent(queue: HandoffQueue, username: str, role: str = "specialist") -> int:
    # cheap scrypt parameters keep tests fast; the stored hash carries its parameters
    return queue.create_agent(username, hash_password(PASSWORD, n=2**10), role).id


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in page"
    return match.group(1)


def login(console: RunningConsole, username: str, password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=console.url, follow_redirects=False, timeout=10)
    page = client.get("/login")
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": csrf_from(page.text)})
    assert response.status_code == 303, response.text
    return client


def page_csrf(client: httpx.Client, path: str = "/") -> str:
    return csrf_from(client.get(path).text)


def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met")


@pytest.fixture
def start() -> Iterator[Any]:
    """``start(queue, fake_rasa, settings, **kwargs)``: a console stopped after the test."""
    running: list[RunningConsole] = []

    def starter(queue: HandoffQueue, fake: FakeRasa, settings: Settings | None = None,
                **kwargs: Any) -> RunningConsole:
        console = start_console(queue, fake, settings=settings or console_settings(fake),
                                **kwargs)
        running.append(console)
        make_agent(queue, "ana")
        return console

    yield starter
    for console in running:
        console.stop()
