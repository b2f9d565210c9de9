"""Where Meta's webhooks go: nginx sends them to the webhook receiver and, while it is down,
to the Rasa instances; everything else to the instances. And which URL the stack gives Meta."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from stack import Stack, StackPorts, nginx
from stack.topology import PRODUCTION_ENDPOINTS

WEBHOOK = "/webhooks/whatsapp/webhook"


@contextmanager
def named_server(name: str) -> Iterator[int]:
    """An HTTP server that answers every GET and POST with its own name."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            body = name.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def running_nginx(tmp_path: Path, upstream: list[int], webhook_port: int | None) -> Iterator[str]:
    executable = nginx.binary()
    if executable is None:
        pytest.skip(f"nginx is not installed here ({nginx.INSTALL_HINT})")
    port = StackPorts.free().rasa
    config = nginx.write_config(tmp_path / "nginx", tmp_path, "127.0.0.1", port, upstream,
                                webhook_port=webhook_port)
    process = subprocess.Popen(nginx.command(executable, config))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def test_nginx_sends_webhooks_to_the_receiver_and_to_the_instances_while_it_is_down(
        tmp_path: Path) -> None:
    with named_server("instance-1") as one, named_server("instance-2") as two:
        with named_server("receiver") as receiver:
            with running_nginx(tmp_path, [one, two], receiver) as url:
                assert {httpx.post(url + WEBHOOK, content=b"{}").text for _ in range(4)} \
                    == {"receiver"}
                assert {httpx.get(url + "/status").text for _ in range(4)} \
                    == {"instance-1", "instance-2"}
                assert httpx.get(url + WEBHOOK + "x").text != "receiver"  # exact path only
        with running_nginx(tmp_path, [one, two], receiver) as url:  # receiver gone
            assert {httpx.post(url + WEBHOOK, content=b"{}").text for _ in range(4)} \
                <= {"instance-1", "instance-2"}


def test_without_a_receiver_the_instances_take_the_webhooks(tmp_path: Path) -> None:
    with named_server("instance-1") as one, named_server("instance-2") as two:
        with running_nginx(tmp_path, [one, two], None) as url:
            assert {httpx.post(url + WEBHOOK, content=b"{}").text for _ in range(4)} \
                == {"instance-1", "instance-2"}


def test_the_url_meta_is_given(tmp_path: Path) -> None:
    ports = StackPorts.free(instances=2)
    assert len({ports.rasa, ports.actions, ports.console, ports.simulator, ports.receiver,
                *ports.instances}) == 7
    embedded = Stack(ports=ports, state_dir=tmp_path, simulator=False)
    assert embedded.webhook_receiver is False
    assert embedded.webhook_url == f"http://127.0.0.1:{ports.rasa}{WEBHOOK}"
    receiving = Stack(ports=ports, state_dir=tmp_path, simulator=False, webhook_receiver=True)
    assert receiving.webhook_url == f"http://127.0.0.1:{ports.receiver}{WEBHOOK}"
    production = Stack(ports=ports, state_dir=tmp_path, simulator=False,
                       endpoints=PRODUCTION_ENDPOINTS, rasa_instances=2)
    assert production.webhook_receiver is True
    assert production.webhook_url == f"http://127.0.0.1:{ports.rasa}{WEBHOOK}"  # nginx


@pytest.mark.parametrize(("setting", "endpoints", "expected"), [
    ("", "endpoints.yml", False), ("", "endpoints.production.yml", True),
    ("1", "endpoints.yml", True), ("0", "endpoints.production.yml", False),
])
def test_make_run_reads_whether_to_start_the_receiver(monkeypatch, tmp_path, setting,
                                                       endpoints, expected) -> None:
    from stack.__main__ import _stack_from_env

    monkeypatch.setenv("WEBHOOK_RECEIVER", setting)
    monkeypatch.setenv("ENDPOINTS", endpoints)
    monkeypatch.setenv("STATE_DIR", str(tmp_path))
    assert _stack_from_env().webhook_receiver is expected
