"""Report figures per day, week or month from the anonymous statistics rows.

Every count between 1 and 4 is suppressed (``None``), and so are the median and 90th
percentile of the time to the first human reply when fewer than 5 cases had a reply: a small
number in a small comuna or on a quiet night can point at one woman. Zero is shown.
Periods are Chile's local days, ISO weeks (Monday first) and calendar months.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from enum import Enum

from handoff.stats import LOCAL_TZ, ContactRow, HandoffRow, local

SUPPRESS_BELOW = 5
LEVELS = ("emergency", "risk", "info", "other")


class Period(str, Enum):
    DAY = "dia"
    WEEK = "semana"
    MONTH = "mes"

    @classmethod
    def parse(cls, value: str | None) -> Period:
        try:
            return cls(str(value or "").strip().lower())
        except ValueError:
            return cls.WEEK


def suppress(count: int) -> int | None:
    """The count, or None when it is small enough to point at a person (1–4)."""
    return None if 0 < count < SUPPRESS_BELOW else count


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[rank - 1])


def _start_of(day: date, period: Period) -> date:
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    return day


def _next(start: date, period: Period) -> date:
    if period is Period.WEEK:
        return start + timedelta(days=7)
    if period is Period.MONTH:
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


def _key(start: date, period: Period) -> str:
    if period is Period.WEEK:
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if period is Period.MONTH:
        return start.strftime("%Y-%m")
    return start.isoformat()


def _utc(day: date) -> datetime:
    """Naive UTC of Chile's local midnight starting ``day``."""
    return (datetime.combine(day, time(0), tzinfo=LOCAL_TZ)
            .astimezone(timezone.utc).replace(tzinfo=None))


@dataclass(frozen=True)
class PeriodSpan:
    key: str  # 2026-12-01, 2026-W49, 2026-12
    start: date  # local
    since: datetime  # naive UTC, inclusive
    until: datetime  # naive UTC, exclusive


def recent_periods(period: Period, count: int, now: datetime) -> list[PeriodSpan]:
    """The last ``count`` periods up to the one containing ``now`` (naive UTC), oldest first."""
    start = _start_of(local(now).date(), period)
    starts = [start]
    for _ in range(count - 1):
        starts.insert(0, _start_of(starts[0] - timedelta(days=1), period))
    return [PeriodSpan(_key(s, period), s, _utc(s), _utc(_next(s, period))) for s in starts]


@dataclass(frozen=True)
class PeriodFigures:
    """Raw (unsuppressed) figures of one period; ``Suppressed`` makes them publishable."""

    span: PeriodSpan
    conversations: int = 0
    people: int = 0
    handoffs: int = 0
    by_level: dict[str, int] = field(default_factory=dict)
    by_region: dict[str, int] = field(default_factory=dict)
    by_outcome: dict[str, int] = field(default_factory=dict)
    by_tag: dict[str, int] = field(default_factory=dict)
    abandoned: int = 0
    replied: int = 0
    median_reply_seconds: float | None = None
    p90_reply_seconds: float | None = None


def _period_figures(span: PeriodSpan, period: Period, handoffs: list[HandoffRow],
                    contacts: list[ContactRow]) -> PeriodFigures:
    first_flag = {Period.DAY: "first_in_day", Period.WEEK: "first_in_week",
                  Period.MONTH: "first_in_month"}[period]
    replies = [h.first_reply_seconds for h in handoffs if h.first_reply_seconds is not None]
    return PeriodFigures(
        span=span,
        conversations=len(contacts),
        people=sum(1 for c in contacts if getattr(c, first_flag)),
        handoffs=len(handoffs),
        by_level=dict(Counter(h.level for h in handoffs)),
        by_region=dict(Counter(h.region for h in handoffs if h.region)),
        by_outcome=dict(Counter(h.outcome for h in handoffs if h.outcome)),
        by_tag=dict(Counter(t for h in handoffs for t in h.tags)),
        abandoned=sum(1 for h in handoffs if h.abandoned),
        replied=len(replies),
        median_reply_seconds=float(statistics.median(replies)) if replies else None,
        p90_reply_seconds=percentile(replies, 90),
    )


def figures(period: Period, spans: Sequence[PeriodSpan], handoffs: Iterable[HandoffRow],
            contacts: Iterable[ContactRow]) -> list[PeriodFigures]:
    """Figures for each span (rows outside every span are ignored)."""
    handoff_groups: dict[str, list[HandoffRow]] = {s.key: [] for s in spans}
    contact_groups: dict[str, list[ContactRow]] = {s.key: [] for s in spans}

    def span_of(at: datetime) -> str | None:
        return next((s.key for s in spans if s.since <= at < s.until), None)

    for row in handoffs:
        if (key := span_of(row.opened_at)) is not None:
            handoff_groups[key].append(row)
    for row in contacts:
        if (key := span_of(row.started_at)) is not None:
            contact_groups[key].append(row)
    return [_period_figures(s, period, handoff_groups[s.key], contact_groups[s.key])
            for s in spans]


@dataclass(frozen=True)
class Suppressed:
    """What may be published of a period: small counts and unreliable times are None."""

    key: str
    conversations: int | None
    people: int | None
    handoffs: int | None
    by_level: dict[str, int | None]
    by_region: dict[str, int | None]
    by_outcome: dict[str, int | None]
    by_tag: dict[str, int | None]
    abandoned: int | None
    median_reply_seconds: float | None
    p90_reply_seconds: float | None
    # levels hidden although 5 or more, so that a suppressed level cannot be worked out by
    # subtracting the shown ones from the total (complementary suppression)
    hidden_levels: frozenset[str] = frozenset()

    @classmethod
    def of(cls, raw: PeriodFigures) -> Suppressed:
        reliable = raw.replied >= SUPPRESS_BELOW

        def each(counts: dict[str, int]) -> dict[str, int | None]:
            return {k: suppress(v) for k, v in sorted(counts.items())}

        by_level = {level: suppress(raw.by_level.get(level, 0)) for level in LEVELS}
        return cls(
            key=raw.span.key,
            conversations=suppress(raw.conversations),
            people=suppress(raw.people),
            handoffs=suppress(raw.handoffs),
            by_level=by_level,
            by_region=each(raw.by_region),
            by_outcome=each(raw.by_outcome),
            by_tag=each(raw.by_tag),
            abandoned=suppress(raw.abandoned),
            median_reply_seconds=raw.median_reply_seconds if reliable else None,
            p90_reply_seconds=raw.p90_reply_seconds if reliable else None,
            hidden_levels=complementary(by_level, suppress(raw.handoffs) is not None),
        )


def complementary(cells: dict[str, int | None], total_shown: bool) -> frozenset[str]:
    """With the total shown, one suppressed cell could be computed from the others: hide the
    smallest other non-zero cell too."""
    suppressed = [k for k, v in cells.items() if v is None]
    if not total_shown or len(suppressed) != 1:
        return frozenset()
    shown = [(v, k) for k, v in cells.items() if v]
    return frozenset({min(shown)[1]}) if shown else frozenset()
