"""Everything the simulator remembers: conversations, API calls, webhooks and faults."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Fault:
    """An injected answer for the next call to the messages endpoint."""

    http_status: int = 500
    code: int | None = None
    message: str | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class Outage:
    """Every send fails with ``fault`` until ``until`` (``time.monotonic()``)."""

    fault: Fault
    until: float


class SimState:
    """Thread-safe: tests may read it from another thread than the server's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        self.conversations: dict[str, list[dict[str, Any]]] = {}
        self.api_calls: list[dict[str, Any]] = []
        self.webhooks: list[dict[str, Any]] = []
        self.payloads: dict[str, bytes] = {}  # webhook body by inbound wamid
        self.faults: deque[Fault] = deque()
        self.outage: Outage | None = None
        self._seq = 0

    def reset(self) -> None:
        with self._lock:
            self._clear()

    # --- conversations ------------------------------------------------------------

    def add_event(self, wa_id: str, direction: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            event = {"seq": self._seq, "direction": direction, "time": time.time(), **fields}
            self.conversations.setdefault(wa_id, []).append(event)
            return dict(event)

    def events(self, wa_id: str, after: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self.conversations.get(wa_id, []) if e["seq"] > after]

    def outbound(self, wa_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            ids = [wa_id] if wa_id else list(self.conversations)
            return [dict(e) for i in ids for e in self.conversations.get(i, [])
                    if e["direction"] == "out"]

    def mark_read(self, wamid: str, typing: bool) -> bool:
        with self._lock:
            for events in self.conversations.values():
                for event in events:
                    if event.get("wamid") == wamid and event["direction"] == "in":
                        event["read"] = True
                        event["typing"] = typing
                        event["read_at"] = time.time()
                        return True
        return False

    def summary(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"wa_id": wa_id, "last_seq": events[-1]["seq"] if events else 0,
                     "count": len(events)} for wa_id, events in self.conversations.items()]

    # --- faults and logs ----------------------------------------------------------

    def add_faults(self, fault: Fault, count: int) -> None:
        with self._lock:
            self.faults.extend([fault] * count)

    def add_outage(self, fault: Fault, seconds: float) -> None:
        """Every send fails like ``fault`` for the next ``seconds`` (the API "down a while")."""
        with self._lock:
            self.outage = Outage(fault, time.monotonic() + seconds)

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()
            self.outage = None

    def outage_left(self) -> float:
        with self._lock:
            if self.outage is None:
                return 0.0
            return max(0.0, self.outage.until - time.monotonic())

    def next_fault(self) -> Fault | None:
        with self._lock:
            if self.outage is not None:
                if time.monotonic() < self.outage.until:
                    return self.outage.fault
                self.outage = None
            return self.faults.popleft() if self.faults else None

    def log_api_call(self, **fields: Any) -> None:
        with self._lock:
            self.api_calls.append({"time": time.time(), **fields})

    def log_webhook(self, **fields: Any) -> None:
        with self._lock:
            self.webhooks.append({"time": time.time(), **fields})

    def remember_payload(self, wamid: str, body: bytes) -> None:
        with self._lock:
            self.payloads[wamid] = body

    def payload(self, wamid: str) -> bytes | None:
        with self._lock:
            return self.payloads.get(wamid)

