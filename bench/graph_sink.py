"""A minimal stand-in for Meta's Graph API for load benchmarks: it accepts every send and
read receipt at once and wakes whoever waits for a phone's n-th message. (The simulator is
for people and tests: it keeps full conversations and scans them, which would measure
itself at hundreds of messages per second.)"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from typing import Any

from aiohttp import web

from simulator.serving import free_port


class GraphSink:
    def __init__(self) -> None:
        self.received: dict[str, list[float]] = defaultdict(list)  # wa_id -> arrival times
        self._waiters: dict[str, list[tuple[int, asyncio.Future]]] = defaultdict(list)
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v21.0"

    async def _messages(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        if body.get("status") == "read":
            return web.json_response({"success": True})
        to = str(body.get("to"))
        self.received[to].append(time.time())
        count = len(self.received[to])
        waiting = self._waiters.get(to, [])
        for entry in [w for w in waiting if w[0] <= count]:
            waiting.remove(entry)
            if not entry[1].done():
                entry[1].set_result(time.time())
        return web.json_response({"messaging_product": "whatsapp",
                                  "contacts": [{"input": to, "wa_id": to}],
                                  "messages": [{"id": f"wamid.bench{next(self._ids)}"}]})

    def count(self, wa_id: str) -> int:
        return len(self.received.get(wa_id, ()))

    async def wait_for(self, wa_id: str, count: int, timeout: float) -> None:
        """Until ``wa_id`` has received ``count`` messages in all (TimeoutError otherwise)."""
        if self.count(wa_id) >= count:
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters[wa_id].append((count, future))
        await asyncio.wait_for(future, timeout)

    async def start(self) -> GraphSink:
        app = web.Application(client_max_size=2 * 1024 * 1024)
        app.router.add_post("/v21.0/{phone_number_id}/messages", self._messages)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
