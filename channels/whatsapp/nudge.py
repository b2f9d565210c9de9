"""«There is a new message in the inbox»: a UDP datagram from the webhook receiver to a Rasa
instance, so that its worker takes the message now instead of at its next poll.

A hint, never the message: the message is already in the inbox. A datagram that is lost
(instance down, network) costs at most ``WHATSAPP_POLL_SECONDS`` (every worker also polls),
so the receiver never waits, retries or needs an answer. Each stored webhook nudges the next
instance in turn, which spreads new conversations over the instances as nginx did.

Settings: ``WHATSAPP_NUDGE_LISTEN=host:port`` on each Rasa instance (UDP; unset: no
listener), ``WHATSAPP_NUDGE_TO=host:port,host:port`` on the receiver. The listener only
wakes the worker (any datagram, contents ignored): a stranger who can reach the port can make
the workers look at the inbox sooner, nothing else; bind it to a private address.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
from collections.abc import Callable, Sequence

logger = logging.getLogger(__name__)

DATAGRAM = b"1"


def parse_address(text: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) → (host, port); ValueError if malformed."""
    host, separator, port = text.strip().rpartition(":")
    if not separator or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not host:port: {text!r}")
    return host.strip("[]"), int(port)


def parse_addresses(text: str | None) -> list[tuple[str, int]]:
    return [parse_address(part) for part in (text or "").split(",") if part.strip()]


class NudgeSender:
    """Sends one datagram per call, to the next address in turn; never raises."""

    def __init__(self, addresses: Sequence[tuple[str, int]]) -> None:
        self.addresses = list(addresses)
        self._next = itertools.cycle(self.addresses) if self.addresses else None
        self._sockets: dict[int, socket.socket] = {}
        self.failures = 0

    def _socket(self, family: int) -> socket.socket:
        if family not in self._sockets:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
            self._sockets[family] = sock
        return self._sockets[family]

    def nudge(self) -> None:
        if self._next is None:
            return
        host, port = next(self._next)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            self._socket(family).sendto(DATAGRAM, (host, port))
        except OSError as error:  # full buffer, no route: the worker's poll finds it
            self.failures += 1
            logger.debug("nudge to %s:%d not sent (%s)", host, port, error)

    def close(self) -> None:
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()


class _Wake(asyncio.DatagramProtocol):
    def __init__(self, wake: Callable[[], None]) -> None:
        self.wake = wake

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.wake()


async def listen(address: tuple[str, int],
                 wake: Callable[[], None]) -> asyncio.DatagramTransport | None:
    """Call ``wake()`` for every datagram at ``address``; None (logged) if it cannot bind:
    the worker still polls."""
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await loop.create_datagram_endpoint(lambda: _Wake(wake),
                                                           local_addr=address)
    except OSError as error:
        logger.warning("cannot listen for nudges at %s:%d (%s); new messages are found by "
                       "polling", address[0], address[1], error)
        return None
    return transport
