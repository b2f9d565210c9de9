"""Who is on the other end of a request: her address and whether she came over HTTPS.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only when the socket peer is one of
the configured proxies (``CONSOLE_TRUSTED_PROXIES``, default loopback: nginx runs on the same
machine). Anyone else could write those headers themselves.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from sanic.request import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_TRUSTED = ("127.0.0.1/32", "::1/128")
UNKNOWN = "?"


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[::1]:443"
        value = value[1:value.index("]")]
    elif value.count(":") == 1:  # "1.2.3.4:5678"
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def parse_networks(spec: str | Iterable[str]) -> tuple[Network, ...]:
    """``"127.0.0.1, 10.0.0.0/8"`` → networks; entries that do not parse are ignored."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            continue
    return tuple(networks)


@dataclass(frozen=True)
class ClientResolver:
    trusted: tuple[Network, ...] = parse_networks(DEFAULT_TRUSTED)

    def _trusted(self, value: str) -> bool:
        address = _address(value)
        return address is not None and any(address in net for net in self.trusted)

    def _peer(self, request: Request) -> str:
        return request.ip or ""

    def _from_proxy(self, request: Request) -> bool:
        return self._trusted(self._peer(request))

    def address(self, request: Request) -> str:
        """Her address: the socket peer, or, from a trusted proxy, the rightmost address of
        ``X-Forwarded-For`` that is not itself a trusted proxy."""
        peer = self._peer(request)
        if not self._from_proxy(request):
            return peer or UNKNOWN
        hops = [h for h in ",".join(request.headers.getall("x-forwarded-for", [])).split(",")
                if h.strip()]
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                return peer or UNKNOWN  # a forged or broken header: fall back to the proxy
            if not any(address in net for net in self.trusted):
                return str(address)
        return str(_address(hops[0])) if hops else (peer or UNKNOWN)

    def is_https(self, request: Request) -> bool:
        """Served over TLS directly, or a trusted proxy says it was (``X-Forwarded-Proto``)."""
        if request.transport.get_extra_info("sslcontext"):
            return True
        if not self._from_proxy(request):
            return False
        proto = (request.headers.get("x-forwarded-proto") or "").split(",")[0]
        return proto.strip().lower() == "https"
