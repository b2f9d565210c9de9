"""Shared helpers of the simulator tests: a fake webhook receiver, an HTTP client."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from sanic import Sanic, response
from sanic.request import Request

from channels.whatsapp.graph_client import shared_ssl_context

ROOT = Path(__file__).resolve().parents[2]


def http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=shared_ssl_context())


class Receiver:
    """Records every webhook POST (raw body and headers) and answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.requests: list[tuple[bytes, dict[str, str]]] = []
        self.status = status

    def app(self) -> Sanic:
        app = Sanic(f"receiver_{uuid.uuid4().hex[:10]}", configure_logging=False)

        @app.post("/webhook")
        async def webhook(request: Request) -> response.HTTPResponse:
            self.requests.append((request.body, dict(request.headers)))
            return response.json({"status": "ok"}, status=self.status)

        return app
