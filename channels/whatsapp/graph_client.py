"""Client of the Graph API ``/messages`` endpoint: one pooled httpx client, bounded retries.

Retries (exponential backoff with jitter) on HTTP 429, HTTP 5xx, timeouts and
connection errors, and error codes 130429 and 131056. Never retries other errors.
``send`` never raises for a failed send: it returns a ``SendResult``. The outbox sender
calls it with ``max_attempts=1`` and keeps its own, durable retries.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from channels.whatsapp.config import WhatsAppConfig
from channels.whatsapp.errors import is_transient, meaning
from channels.whatsapp.privacy import hash_id

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# At most this many requests in flight: beyond the pool's size, httpcore spends CPU
# (quadratically) re-checking queued requests, which delays the webhook's answers.
MAX_IN_FLIGHT = 24
_ssl_context: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context per process (loading the CA bundle takes tens of milliseconds)."""
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = httpx.create_ssl_context()
    return _ssl_context


@dataclass(frozen=True)
class SendResult:
    ok: bool
    message_id: str | None = None
    http_status: int | None = None
    error_code: int | None = None
    attempts: int = 0


def _error_of(response: httpx.Response) -> tuple[int | None, str | None]:
    """(code, fbtrace_id) of a Graph error body, if it has one."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return None, None
    if not isinstance(error, dict):
        return None, None
    code = error.get("code")
    return (code if isinstance(code, int) else None), error.get("fbtrace_id")


def _message_id_of(response: httpx.Response) -> str | None:
    try:
        return response.json()["messages"][0]["id"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None


class GraphClient:
    def __init__(
        self,
        api_url: str,
        phone_number_id: str,
        access_token: str,
        *,
        max_attempts: int = 4,
        base_delay: float = 0.5,
        max_delay: float = 4.0,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.messages_url = f"{api_url.rstrip('/')}/{phone_number_id}/messages"
        self._headers = {"Authorization": f"Bearer {access_token}"}
        self.max_attempts = max(1, max_attempts)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._timeout = timeout
        self._max_in_flight = max(1, max_in_flight)
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None

    @classmethod
    def from_config(cls, config: WhatsAppConfig, **kwargs: Any) -> GraphClient:
        return cls(config.api_url, config.phone_number_id, config.access_token, **kwargs)

    def _http(self) -> httpx.AsyncClient:
        """The shared client (a new one only if the event loop changed, e.g. in tests)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client.is_closed or self._client_loop is not loop:
            limits = httpx.Limits(max_connections=self._max_in_flight,
                                  max_keepalive_connections=self._max_in_flight)
            self._client = httpx.AsyncClient(
                timeout=self._timeout, limits=limits, headers=self._headers,
                verify=shared_ssl_context(),
            )
            self._client_loop = loop
            self._slots = asyncio.Semaphore(self._max_in_flight)
        return self._client

    async def _post(self, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
        client = self._http()
        assert self._slots is not None
        async with self._slots:
            return await client.post(self.messages_url, json=body, **kwargs)

    async def aclose(self) -> None:
        if self._client is not None and not self._client.is_closed:
            await self._client.aclose()

    def backoff(self, attempt: int) -> float:
        """Delay after failed try number ``attempt`` (1-based): exponential, equal jitter."""
        delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return delay / 2 + random.uniform(0, delay / 2)

    async def send(self, message: dict[str, Any], *, recipient: str = "",
                   max_attempts: int | None = None) -> SendResult:
        """POST one message object; retry transient failures a bounded number of times
        (``max_attempts=1``: one try, the outbox sender keeps its own retries)."""
        ref = hash_id(recipient or message.get("to", ""))
        kind = message.get("type", "read" if message.get("status") == "read" else "?")
        status: int | None = None
        code: int | None = None
        attempts = max(1, max_attempts or self.max_attempts)
        for attempt in range(1, attempts + 1):
            try:
                response = await self._post(message)
            except httpx.TransportError as exc:  # timeouts, refused connections, resets
                status, code, reason = None, None, type(exc).__name__
            else:
                if response.is_success:
                    return SendResult(True, _message_id_of(response), response.status_code,
                                      None, attempt)
                status = response.status_code
                code, trace = _error_of(response)
                if not is_transient(status, code):
                    self._log_final(status, code, trace, ref, kind)
                    return SendResult(False, None, status, code, attempt)
                reason = f"HTTP {status}, code {code} ({meaning(code)})"
            if attempt < attempts:
                delay = self.backoff(attempt)
                logger.info("WhatsApp send to %s: %s; retry %d in %.2fs",
                            ref, reason, attempt, delay)
                await asyncio.sleep(delay)
        logger.warning("WhatsApp %s message to %s not sent (%d tries): %s",
                       kind, ref, attempts, reason)
        return SendResult(False, None, status, code, attempts)

    @staticmethod
    def _log_final(status: int, code: int | None, trace: Any, ref: str, kind: str) -> None:
        text = (f"WhatsApp {kind} message to {ref} refused: HTTP {status}, "
                f"code {code} ({meaning(code)}), fbtrace_id {trace}")
        if code == 190:
            logger.critical("OPERATOR ALERT: %s. Replace WHATSAPP_ACCESS_TOKEN; "
                            "no message can be sent until then.", text)
        elif code == 100:
            logger.error("BUG: %s. The channel built an invalid message; fix the code.", text)
        else:
            logger.warning("%s. Not retried.", text)
