"""Progressive login delays: slow a guesser down without letting a stranger lock anyone out.

After ``free`` failed logins in the window, each further attempt must wait ``first`` seconds
after the last failure, doubling with every failure up to a cap. The cap per account is short
(a stranger who types her username can only make her wait a minute) and longer per client
address (the guesser's own address pays). A refused attempt is not a failure: waiting is never
extended by trying during the wait. A supervisor clears an account's failures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Failures:
    """Recent failed logins for one key (an account or an address)."""

    count: int = 0
    last: datetime | None = None


@dataclass(frozen=True)
class DelayPolicy:
    free: int = 3
    first_seconds: float = 5.0
    max_account_seconds: float = 60.0
    max_address_seconds: float = 900.0

    def delay(self, count: int, cap: float) -> float:
        """Seconds to wait after the last failure once there were ``count`` failures."""
        if count < self.free:
            return 0.0
        return min(cap, self.first_seconds * 2.0 ** min(count - self.free, 30))

    def wait_seconds(self, account: Failures, address: Failures, now: datetime) -> int:
        """Whole seconds still to wait before the next attempt (0: go ahead)."""
        waits = [0.0]
        for failures, cap in ((account, self.max_account_seconds),
                              (address, self.max_address_seconds)):
            if failures.last is not None:
                elapsed = (now - failures.last).total_seconds()
                waits.append(self.delay(failures.count, cap) - elapsed)
        return max(0, math.ceil(max(waits)))
