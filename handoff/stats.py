"""Anonymous statistics rows: written as cases happen, read by the reports.

A handoff row holds its level, times (to the minute), outcome, tags and region; a contact row
holds the hour a conversation started and whether it was her first in the day, week and month.
Neither holds a conversation id, a phone number, a name or a word she wrote, so they survive
the retention purge. Counting *people* needs to know whether she wrote before in the period:
``handoff_stats_seen`` keeps one keyed digest per person with the last day/week/month seen,
and is purged after ``SEEN_KEEP_DAYS``.

Handoff rows are written by the queue in the same transaction as the ticket change
(``open_row``, ``escalate_row``, ``first_reply_row``, ``close_row``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from handoff.base import Store, utcnow
from handoff.models import ContactStat, HandoffStat, PersonSeen, Ticket

logger = logging.getLogger(__name__)

LOCAL_TZ = ZoneInfo("America/Santiago")
SEEN_KEEP_DAYS = 40  # longer than a month, so "first in the month" stays right


def to_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def to_hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def local(at: datetime) -> datetime:
    """A stored naive-UTC time in Chile's local time."""
    return at.replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ)


def period_keys(at: datetime) -> tuple[str, str, str]:
    """Chile's local (day, ISO week, month) of a naive-UTC time."""
    moment = local(at)
    year, week, _ = moment.isocalendar()
    return moment.strftime("%Y-%m-%d"), f"{year}-W{week:02d}", moment.strftime("%Y-%m")


# ---------------------------------------------------- handoff rows (in the queue's transaction)
def open_row(s: Session, ticket: Ticket) -> None:
    row = HandoffStat(opened_at=to_minute(ticket.created_at), level=ticket.level,
                      priority=ticket.priority, escalated=False, region=ticket.region)
    s.add(row)
    s.flush()
    ticket.stats_id = row.id


def _row(s: Session, ticket: Ticket) -> HandoffStat | None:
    return s.get(HandoffStat, ticket.stats_id) if ticket.stats_id else None


def level_row(s: Session, ticket: Ticket, escalated: bool = False) -> None:
    row = _row(s, ticket)
    if row is not None:
        row.level, row.priority = ticket.level, ticket.priority
        row.escalated = bool(row.escalated or escalated)
        row.region = ticket.region or row.region


def first_reply_row(s: Session, ticket: Ticket, at: datetime) -> None:
    row = _row(s, ticket)
    if row is not None and row.first_reply_seconds is None:
        row.first_reply_seconds = max(0, int((at - ticket.created_at).total_seconds()))


def close_row(s: Session, ticket: Ticket) -> None:
    row = _row(s, ticket)
    if row is None:
        return
    row.closed_at = to_minute(ticket.closed_at or utcnow())
    row.outcome = ticket.outcome
    row.tags = list(ticket.tags or []) or None
    row.region = ticket.region or row.region
    row.level, row.priority = ticket.level, ticket.priority
    row.abandoned = ticket.first_reply_at is None


# --------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class HandoffRow:
    opened_at: datetime
    level: str
    priority: int
    escalated: bool
    first_reply_seconds: int | None
    closed_at: datetime | None
    outcome: str | None
    tags: tuple[str, ...]
    region: str | None
    abandoned: bool | None


@dataclass(frozen=True)
class ContactRow:
    started_at: datetime
    first_in_day: bool
    first_in_week: bool
    first_in_month: bool


class StatsStore(Store):
    """Contacts (conversations, people) and reading the rows for the reports."""

    def __init__(self, engine: Engine, digest: Callable[[str], str] | None = None) -> None:
        super().__init__(engine)
        self._digest = digest

    def _person(self, conversation_id: str) -> str:
        if self._digest is None:
            from store.crypto import data_keyring

            self._digest = data_keyring().digest
        return self._digest(f"person:{conversation_id}")

    def record_contact(self, conversation_id: str, at: datetime | None = None) -> ContactRow:
        """A conversation started (a Rasa session): one anonymous contact row."""
        at = at or utcnow()
        digest = self._person(conversation_id)
        for attempt in range(2):
            try:
                return self._record_contact(digest, at)
            except IntegrityError:  # the same person at the same moment in another process
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _record_contact(self, digest: str, at: datetime) -> ContactRow:
        day, week, month = period_keys(at)
        with self._session() as s:
            seen = s.get(PersonSeen, digest)
            row = ContactStat(
                started_at=to_hour(at),
                first_in_day=seen is None or seen.day != day,
                first_in_week=seen is None or seen.week != week,
                first_in_month=seen is None or seen.month != month,
            )
            if seen is None:
                s.add(PersonSeen(person_digest=digest, day=day, week=week, month=month,
                                 seen_at=at))
            else:
                seen.day, seen.week, seen.month, seen.seen_at = day, week, month, at
            s.add(row)
            return ContactRow(row.started_at, row.first_in_day, row.first_in_week,
                              row.first_in_month)

    def purge_seen(self, now: datetime | None = None) -> int:
        """Forget people not seen for ``SEEN_KEEP_DAYS`` (their statistics rows stay)."""
        cutoff = (now or utcnow()) - timedelta(days=SEEN_KEEP_DAYS)
        with self._session() as s:
            return int(s.execute(delete(PersonSeen).where(PersonSeen.seen_at < cutoff)).rowcount)

    def handoff_rows(self, since: datetime, until: datetime) -> list[HandoffRow]:
        query = (select(HandoffStat).where(HandoffStat.opened_at >= since,
                                           HandoffStat.opened_at < until)
                 .order_by(HandoffStat.opened_at))
        with self._session() as s:
            return [HandoffRow(r.opened_at, r.level, r.priority, bool(r.escalated),
                               r.first_reply_seconds, r.closed_at, r.outcome,
                               tuple(r.tags or ()), r.region, r.abandoned)
                    for r in s.execute(query).scalars()]

    def contact_rows(self, since: datetime, until: datetime) -> list[ContactRow]:
        query = (select(ContactStat).where(ContactStat.started_at >= since,
                                           ContactStat.started_at < until)
                 .order_by(ContactStat.started_at))
        with self._session() as s:
            return [ContactRow(r.started_at, r.first_in_day, r.first_in_week, r.first_in_month)
                    for r in s.execute(query).scalars()]


_shared: dict[str, StatsStore] = {}
_shared_lock = threading.Lock()


def shared_stats() -> StatsStore:
    """The process-wide store on the shared engine from DATABASE_URL."""
    from store.db import database_url, shared_engine

    url = database_url()
    with _shared_lock:
        if url not in _shared:
            _shared[url] = StatsStore(shared_engine(url))
        return _shared[url]


def record_contact_safely(conversation_id: str) -> None:
    """For the event broker (runs in a thread): count a conversation; never raises."""
    try:
        shared_stats().record_contact(conversation_id)
    except Exception:  # noqa: BLE001 - statistics must never break a conversation
        logger.exception("Could not record a contact row.")
