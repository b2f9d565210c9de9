"""The review queue's table: redacted messages worth teaching from, encrypted, unlinked.

One row per message: a random id (no order to link it to a conversation), the week it was
captured (a coarse date: the Monday of that week), the main reason, and everything else —
the redacted text, the assistant's reading, the candidate intents — as one encrypted token
(store/crypto.py). No conversation id, no phone number, no digest of either, no timestamp.
Labelled or discarded items are deleted; the rest are purged after RETENTION_DAYS.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from typing import Any

from sqlalchemy import Column, Date, MetaData, String, Table, Text, delete, func, select
from sqlalchemy.engine import Engine

from store.crypto import InvalidToken, KeyRing, data_keyring

logger = logging.getLogger(__name__)

metadata = MetaData()
review_items = Table(
    "review_items", metadata,
    Column("id", String(24), primary_key=True),
    Column("week", Date, nullable=False, index=True),
    Column("reason", String(32), nullable=False),
    Column("payload", Text, nullable=False),
)


class ReviewReason(str, Enum):
    """Why a message entered the queue (most telling first)."""

    CONTRADICTED = "cierre_contradice"  # a specialist closed the case with another outcome
    PROMOTED = "lectura_mas_grave"  # the «more dangerous reading» rule changed the top intent
    SIGNALS = "senales_en_desacuerdo"  # immediacy / person signals near their floor or at odds
    FALLBACK = "no_entendio"  # the fallback: the assistant did not understand
    LOW_CONFIDENCE = "confianza_baja"  # the top intent had low confidence


def week_of(moment: datetime | date) -> date:
    """The Monday of the week of ``moment`` (the only date an item keeps)."""
    day = moment.date() if isinstance(moment, datetime) else moment
    return day - timedelta(days=day.weekday())


def today_utc() -> date:
    return datetime.now(timezone.utc).date()


@dataclass(frozen=True)
class ReviewItem:
    """One message to review. ``text`` is already redacted."""

    id: str
    week: date
    reasons: tuple[ReviewReason, ...]
    text: str
    reading: Mapping[str, Any] = field(default_factory=dict)
    ranking: tuple[tuple[str, float], ...] = ()
    outcome: str | None = None

    @property
    def reason(self) -> ReviewReason:
        return self.reasons[0]


def _payload(item: ReviewItem) -> dict[str, Any]:
    return {"text": item.text, "reasons": [r.value for r in item.reasons],
            "reading": dict(item.reading), "ranking": [list(r) for r in item.ranking],
            "outcome": item.outcome}


def _item(row: Any, data: Mapping[str, Any]) -> ReviewItem:
    reasons = tuple(ReviewReason(r) for r in data.get("reasons") or [row.reason])
    return ReviewItem(
        id=row.id, week=row.week, reasons=reasons, text=str(data.get("text") or ""),
        reading=dict(data.get("reading") or {}),
        ranking=tuple((str(n), float(c)) for n, c in data.get("ranking") or []),
        outcome=data.get("outcome"),
    )


class ReviewStore:
    def __init__(self, engine: Engine, keyring: KeyRing | None = None) -> None:
        self.engine = engine
        self._keyring = keyring
        metadata.create_all(engine)

    @property
    def keyring(self) -> KeyRing:
        return self._keyring or data_keyring()

    def add(self, text: str, reasons: Sequence[ReviewReason], reading: Mapping[str, Any],
            ranking: Sequence[tuple[str, float]] = (), outcome: str | None = None,
            week: date | None = None, max_items: int | None = None) -> str | None:
        """Store one (already redacted) message; None when the queue is full."""
        ordered = tuple(sorted(set(reasons), key=list(ReviewReason).index))
        item = ReviewItem(secrets.token_urlsafe(12), week or week_of(today_utc()), ordered,
                          text, reading, tuple(ranking), outcome)
        with self.engine.begin() as conn:
            if max_items is not None and self._count(conn) >= max_items:
                return None
            conn.execute(review_items.insert().values(
                id=item.id, week=item.week, reason=item.reason.value,
                payload=self.keyring.encrypt_json(_payload(item))))
        return item.id

    def _count(self, conn: Any) -> int:
        return int(conn.execute(select(func.count()).select_from(review_items)).scalar_one())

    def count(self) -> int:
        with self.engine.connect() as conn:
            return self._count(conn)

    def counts_by_reason(self) -> dict[ReviewReason, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(review_items.c.reason, func.count())
                                .group_by(review_items.c.reason)).all()
        return {ReviewReason(reason): int(n) for reason, n in rows}

    def _decode(self, row: Any) -> ReviewItem | None:
        try:
            return _item(row, self.keyring.decrypt_json(row.payload))
        except (InvalidToken, ValueError, TypeError):
            logger.error("Review item %s cannot be decrypted (key rotated away?).", row.id)
            return None

    def items(self, limit: int = 50) -> list[ReviewItem]:
        """The oldest items first: those are purged soonest."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(review_items).order_by(
                review_items.c.week, review_items.c.id).limit(limit)).all()
        return [item for item in map(self._decode, rows) if item is not None]

    def get(self, item_id: str) -> ReviewItem | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(review_items).where(review_items.c.id == item_id)).first()
        return self._decode(row) if row is not None else None

    def next_after(self, item_id: str | None = None) -> ReviewItem | None:
        """The next item to review (the oldest), skipping ``item_id``."""
        for item in self.items(limit=2):
            if item.id != item_id:
                return item
        return None

    def take(self, item_id: str, then: Callable[[ReviewItem], Any]) -> ReviewItem | None:
        """Remove an item and run ``then(item)`` in one transaction (if ``then`` raises, the
        item stays). None when another trainer took it first."""
        with self.engine.begin() as conn:
            row = conn.execute(select(review_items).where(review_items.c.id == item_id)).first()
            if row is None:
                return None
            if conn.execute(delete(review_items).where(review_items.c.id == item_id)).rowcount != 1:
                return None
            item = self._decode(row)
            if item is not None:
                then(item)
            return item

    def purge(self, before: date) -> int:
        """Delete items captured in weeks that started before ``before``."""
        with self.engine.begin() as conn:
            return int(conn.execute(delete(review_items).where(review_items.c.week < before))
                       .rowcount or 0)
