"""Meta's sending limits as token buckets, and the backoff between tries.

- Per business number: 80 messages/s by default (``WHATSAPP_SEND_RATE``); error 130429 when
  exceeded.
- Per recipient ("pair rate"): about one message every 6 s, with short bursts allowed;
  error 131056 when exceeded. A bot turn is often two or three messages at once, so a burst
  of ``WHATSAPP_PAIR_BURST`` goes out at once, then one every ``WHATSAPP_PAIR_INTERVAL``
  seconds, in order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class TokenBucket:
    capacity: float
    refill_per_second: float
    tokens: float
    updated: float

    @classmethod
    def full(cls, capacity: float, refill_per_second: float, now: float) -> TokenBucket:
        return cls(capacity, refill_per_second, capacity, now)

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.refill_per_second)
        self.updated = now

    def take(self, now: float) -> bool:
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait(self, now: float) -> float:
        """Seconds until one token is available."""
        self._refill(now)
        return max(0.0, (1.0 - self.tokens) / self.refill_per_second)

    def empty(self, now: float) -> None:
        """Meta said "too many": start counting again from zero."""
        self._refill(now)
        self.tokens = 0.0

    def is_full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.capacity


class PairPacer:
    """One bucket per recipient (by digest); full buckets are forgotten."""

    def __init__(self, burst: int, interval: float) -> None:
        self.burst = max(1, burst)
        self.interval = interval
        self._buckets: dict[str, TokenBucket] = {}

    def _bucket(self, recipient: str, now: float) -> TokenBucket:
        bucket = self._buckets.get(recipient)
        if bucket is None:
            bucket = TokenBucket.full(self.burst, 1.0 / self.interval, now)
            self._buckets[recipient] = bucket
        return bucket

    def take(self, recipient: str, now: float) -> bool:
        return self._bucket(recipient, now).take(now)

    def wait(self, recipient: str, now: float) -> float:
        return self._bucket(recipient, now).wait(now)

    def throttled(self, recipient: str, now: float) -> None:
        self._bucket(recipient, now).empty(now)

    def forget_idle(self, now: float) -> None:
        for recipient in [r for r, b in self._buckets.items() if b.is_full(now)]:
            del self._buckets[recipient]


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with equal jitter after failed try number ``attempt`` (1-based)."""
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2)
