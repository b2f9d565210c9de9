"""Retention: content is kept ``RETENTION_DAYS`` (default 30) and then deleted.

The horizon runs from a ticket's close, or from her last message when there is no ticket:
a conversation with an open ticket, or a ticket closed within the horizon, is held.
What survives is anonymous: the statistics rows (level, times, outcome, region) the reports
read (``handoff/stats.py``).

One registry, one purge function per store (each takes a ``Horizon``, returns how many rows
went, never logs text or numbers). The modules of ``STORES`` register theirs on import:

| name               | module                          | deletes                                  |
| ------------------ | ------------------------------- | ---------------------------------------- |
| `whatsapp_channel` | channels/whatsapp/retention.py  | inbox, outbox (statuses), last-message   |
| `handoff_queue`    | handoff/retention.py            | ticket content and notes; people seen    |
| `escalation_log`   | handoff/retention.py            | processed escalation decisions           |
| `audit_details`    | handoff/retention.py            | details of old audit entries (chain kept) |
| `review_items`     | training/review.py              | the trainers' review queue               |
| `rasa_trackers`    | store/tracker_retention.py      | trackers of idle, unheld conversations   |
| `erasure_requests` | store/erasure.py                | finished erasure requests                |

Runs a minute after every Rasa instance starts and then daily (``channels/whatsapp/runtime.py``),
and by cron::

    python -m store.retention            # prints what went, per store
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

logger = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 30
PURGE_EVERY_SECONDS = 24 * 3600
STORES = (
    "channels.whatsapp.retention",
    "handoff.retention",
    "training.review",
    "store.tracker_retention",
    "store.erasure",
)


def retention_days() -> int:
    """``RETENTION_DAYS`` (at least 1; malformed or unset: 30)."""
    try:
        return max(1, int(os.environ.get("RETENTION_DAYS") or DEFAULT_RETENTION_DAYS))
    except ValueError:
        return DEFAULT_RETENTION_DAYS


@dataclass(frozen=True)
class Horizon:
    """Content older than ``cutoff`` goes. ``now`` is aware UTC."""

    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    days: int = field(default_factory=retention_days)

    @property
    def now_naive(self) -> datetime:
        """``now`` as naive UTC."""
        return self.now.astimezone(timezone.utc).replace(tzinfo=None)

    @property
    def cutoff(self) -> datetime:
        """Naive UTC, like every stored ``DateTime`` of the queue."""
        return (self.now - timedelta(days=self.days)).astimezone(timezone.utc) \
            .replace(tzinfo=None)

    @property
    def cutoff_epoch(self) -> float:
        return (self.now - timedelta(days=self.days)).timestamp()


PurgeFunction = Callable[[Horizon], int]
_registry: dict[str, PurgeFunction] = {}
_lock = threading.Lock()


def register(name: str) -> Callable[[PurgeFunction], PurgeFunction]:
    """Decorator: ``@register("my_store")`` on ``def purge(horizon) -> int``."""
    def add(function: PurgeFunction) -> PurgeFunction:
        with _lock:
            _registry[name] = function
        return function
    return add


def registered() -> dict[str, PurgeFunction]:
    """Every store's purge function (importing the modules of ``STORES`` first)."""
    for module in STORES:
        importlib.import_module(module)
    with _lock:
        return dict(_registry)


def purge_all(horizon: Horizon | None = None) -> dict[str, int]:
    """Run every purge; one store failing does not stop the others (its count is -1)."""
    horizon = horizon or Horizon()
    counts: dict[str, int] = {}
    for name, function in registered().items():
        try:
            counts[name] = int(function(horizon) or 0)
        except Exception:  # noqa: BLE001 - the next run tries again
            logger.exception("retention purge of %s failed", name)
            counts[name] = -1
    logger.info("retention purge (%d days): %s", horizon.days,
                ", ".join(f"{name}={count}" for name, count in counts.items()))
    return counts


def main() -> int:
    from store import retention  # the registry the stores fill (``python -m`` runs __main__)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    counts = retention.purge_all()
    for name, count in counts.items():
        print(f"{name}: {'falló' if count < 0 else count}")
    return 1 if any(count < 0 for count in counts.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
