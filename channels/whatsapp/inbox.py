"""The inbox: every item of a signed webhook, stored before we answer 200.

``store_updates`` writes, in ONE transaction, a row per message (sealed with ``store.crypto``;
the digest of Meta's message id is unique, so the insert is the atomic claim of that id), her
last-message time, a row per event that is not her words and per unusable item, and the
statuses of our messages (on their outbox rows). Only after the commit does the webhook answer
200. Concurrent webhooks share one transaction (group commit, ``group_commit.py``).

Workers (``worker.py``) ``claim`` per sender the oldest pending message whose predecessors
are done (Meta's timestamp, then arrival), with ``SELECT … FOR UPDATE SKIP LOCKED`` on
PostgreSQL; on SQLite the claim is one ``UPDATE`` statement, which holds the database's
write lock while it selects. A row is ``done`` only after Rasa saved the tracker.

For the console and the privacy work (no text, no number): ``channel_events``,
``recent_identity_changes`` and ``revoked_message_digests`` (see README).
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.engine import Connection

from channels.whatsapp.inbound import InboundEvent, InboundKind, InboundMessage, ParsedUpdate
from channels.whatsapp.instances import live_ids_query
from channels.whatsapp.outbox import OutboundRequest, apply_status, outbound_row
from channels.whatsapp.tables import engine, inbox, insert_ignoring_duplicates, is_postgres
from channels.whatsapp.tables import outbox as outbox_table
from channels.whatsapp.window import record_in
from store.crypto import InvalidToken, data_keyring
from store.db import write_promptly

logger = logging.getLogger(__name__)

MAX_FAILURES = 3  # a turn that raised this many times is a bug: kept as failed, not retried


class InboxState(str, Enum):
    PENDING = "pending"  # stored, waiting for a worker
    PROCESSING = "processing"  # taken by a worker (taken_by, claim_token)
    DONE = "done"  # the Rasa turn ran and the tracker was saved; payload erased
    SILENT = "silent"  # not her words (deleted message, security code...): recorded only
    SKIPPED = "skipped"  # signed but unusable (unknown type, Meta's errors, other field)
    FAILED = "failed"  # the turn raised MAX_FAILURES times; kept sealed for diagnosis


@dataclass(frozen=True)
class Claimed:
    """A message taken by a worker. ``message`` is None if its payload could not be read."""

    id: int
    claim_token: str
    attempts: int
    failures: int
    wamid_digest: str | None
    message: InboundMessage | None

    @property
    def replayed(self) -> bool:
        """Taken before (a worker died or gave it back): its turn may already be saved."""
        return self.attempts > 1


@dataclass(frozen=True)
class ChannelEvent:
    """Something recorded for a conversation that is not a turn (no text, no number)."""

    kind: InboundKind
    state: InboxState
    received_at: float
    meta_timestamp: int
    message_digest: str | None  # digest of the event's own message id
    related_digest: str | None  # revoke/edit: the original message; number change: new number
    detail: str | None


def _meta_ts(timestamp: str | None, now: float) -> int:
    """Meta's timestamp, or the arrival time when it is missing."""
    return int(timestamp) if timestamp and timestamp.isdigit() and int(timestamp) else int(now)


def _digest(value: str | None, ring: Any = None) -> str | None:
    return (ring or data_keyring()).digest(value) if value else None


def _message_row(message: InboundMessage, now: float) -> dict[str, Any]:
    ring = data_keyring()
    return {"wamid_digest": _digest(message.message_id, ring),
            "sender_digest": _digest(message.sender, ring),
            "meta_ts": _meta_ts(message.timestamp, now), "received_at": now,
            "kind": message.kind, "state": InboxState.PENDING.value, "detail": None,
            "related_digest": None,
            "payload": ring.encrypt_json(dataclasses.asdict(message)),
            "attempts": 0, "failures": 0}


def _event_row(event: InboundEvent, now: float) -> dict[str, Any]:
    state = InboxState.SKIPPED if event.kind is InboundKind.UNUSABLE else InboxState.SILENT
    return {"wamid_digest": _digest(event.message_id), "sender_digest": _digest(event.sender),
            "meta_ts": _meta_ts(event.timestamp, now), "received_at": now,
            "kind": event.kind.value, "state": state.value, "detail": event.detail,
            "related_digest": _digest(event.related_id), "payload": None,
            "attempts": 0, "failures": 0}


def store_updates(updates: list[ParsedUpdate], now: float | None = None) -> None:
    """Store everything of these webhooks in ONE durable transaction (see the module
    docstring): inbox rows, her last-message time (the 24-hour window), our statuses."""
    now = time.time() if now is None else now
    rows: list[dict[str, Any]] = []
    claimed: set[str] = set()
    latest: dict[str, float] = {}
    for update_ in updates:
        for message in update_.messages:
            row = _message_row(message, now)
            if row["wamid_digest"] in claimed:
                continue  # the same message twice in one batch (concurrent redeliveries)
            claimed.add(row["wamid_digest"])
            rows.append(row)
            latest[row["sender_digest"]] = max(latest.get(row["sender_digest"], 0.0),
                                               float(min(row["meta_ts"], now)))
        rows += [_event_row(e, now) for e in update_.events]

    def write(conn: Connection) -> None:  # run again if it found SQLite's write lock taken
        insert_ignoring_duplicates(conn, inbox, rows, "wamid_digest")
        record_in(conn, latest)
        for update_ in updates:
            for status in update_.statuses:
                apply_status(conn, status, now)

    write_promptly(engine(durable=True), write)


def store_update(update_: ParsedUpdate, now: float | None = None) -> None:
    store_updates([update_], now)


# --- workers -------------------------------------------------------------------------------

def has_pending() -> bool:
    with engine().connect() as conn:
        return conn.execute(select(inbox.c.id).where(inbox.c.state == InboxState.PENDING.value)
                            .limit(1)).first() is not None


def _claim_statement(instance_id: str, token: str, limit: int, now: float, postgres: bool,
                     exclude: Collection[int] = ()):
    row, earlier = inbox.alias("candidate"), inbox.alias("earlier")
    before_it = or_(earlier.c.meta_ts < row.c.meta_ts,
                    and_(earlier.c.meta_ts == row.c.meta_ts, earlier.c.id < row.c.id))
    blocked = select(earlier.c.id).where(
        earlier.c.sender_digest == row.c.sender_digest,
        or_(earlier.c.state == InboxState.PROCESSING.value,
            and_(earlier.c.state == InboxState.PENDING.value, before_it))).exists()
    pick = select(row.c.id).where(row.c.state == InboxState.PENDING.value, ~blocked)
    if exclude:
        pick = pick.where(row.c.id.notin_(list(exclude)))
    pick = pick.order_by(row.c.meta_ts, row.c.id).limit(limit)
    if postgres:
        pick = pick.with_for_update(skip_locked=True, of=row)
    return (update(inbox).where(inbox.c.id.in_(pick))
            .values(state=InboxState.PROCESSING.value, taken_by=instance_id, claim_token=token,
                    taken_at=now, attempts=inbox.c.attempts + 1)
            .execution_options(synchronize_session=False))


def claim(instance_id: str, limit: int, now: float | None = None,
          exclude: Collection[int] = ()) -> list[Claimed]:
    """Take up to ``limit`` messages, at most one per sender, each the oldest of its sender
    (``exclude``: row ids this worker parked; their senders wait behind them)."""
    if limit <= 0 or not has_pending():
        return []
    now = time.time() if now is None else now
    token = uuid.uuid4().hex
    eng = engine()
    with eng.begin() as conn:
        conn.execute(_claim_statement(instance_id, token, limit, now, is_postgres(eng),
                                      exclude))
        rows = conn.execute(select(inbox.c.id, inbox.c.attempts, inbox.c.failures,
                                   inbox.c.wamid_digest, inbox.c.payload)
                            .where(inbox.c.claim_token == token)
                            .order_by(inbox.c.meta_ts, inbox.c.id)).all()
    return [Claimed(r.id, token, r.attempts, r.failures, r.wamid_digest, _open(r.payload))
            for r in rows]


def _open(payload: str | None) -> InboundMessage | None:
    try:
        return InboundMessage(**data_keyring().decrypt_json(payload)) if payload else None
    except (InvalidToken, TypeError, ValueError):
        return None


def _update_claimed(claimed: Claimed, **values: Any) -> bool:
    with engine().begin() as conn:
        return conn.execute(update(inbox).where(inbox.c.id == claimed.id,
                                                inbox.c.claim_token == claimed.claim_token)
                            .values(**values)).rowcount == 1


def finish(claimed: Claimed, also: list[OutboundRequest] | None = None,
           now: float | None = None) -> bool:
    """Done: the turn's tracker is saved. The sealed copy of her message is erased; ``also``
    (the read receipt) is stored in the same transaction."""
    now = time.time() if now is None else now
    with engine().begin() as conn:
        if also:
            insert_ignoring_duplicates(conn, outbox_table, [outbound_row(r, now) for r in also],
                                       "key")
        return conn.execute(update(inbox).where(inbox.c.id == claimed.id,
                                                inbox.c.claim_token == claimed.claim_token)
                            .values(state=InboxState.DONE.value, payload=None, claim_token=None,
                                    done_at=now)).rowcount == 1


def give_back(claimed: Claimed) -> bool:
    """Not processed (the action server is down, or we are stopping): pending again, and
    this take does not count as an attempt."""
    return _update_claimed(claimed, state=InboxState.PENDING.value, taken_by=None,
                           claim_token=None, attempts=max(0, claimed.attempts - 1))


def record_failure(claimed: Claimed, detail: str, final: bool = False) -> InboxState:
    """The turn raised: try again later, or after MAX_FAILURES (or if ``final``) keep it as
    failed."""
    failures = claimed.failures + 1
    state = InboxState.FAILED if final or failures >= MAX_FAILURES else InboxState.PENDING
    _update_claimed(claimed, state=state.value, failures=failures, taken_by=None,
                    claim_token=None, detail=detail[:64])
    return state


def reclaim_stale(stale_before: float) -> int:
    """Messages held by instances whose heartbeat is older than ``stale_before`` go back to
    the queue (their process died); they are replayed, with the tracker check."""
    with engine().begin() as conn:
        return conn.execute(
            update(inbox).where(inbox.c.state == InboxState.PROCESSING.value,
                                inbox.c.taken_by.notin_(live_ids_query(stale_before)))
            .values(state=InboxState.PENDING.value, taken_by=None, claim_token=None)
        ).rowcount


def release_instance(instance_id: str) -> int:
    """Clean stop: what this instance still holds goes back to the queue at once."""
    with engine().begin() as conn:
        return conn.execute(
            update(inbox).where(inbox.c.state == InboxState.PROCESSING.value,
                                inbox.c.taken_by == instance_id)
            .values(state=InboxState.PENDING.value, taken_by=None, claim_token=None)
        ).rowcount


def open_count() -> int:
    """Messages not yet done (pending or processing)."""
    with engine().connect() as conn:
        return conn.execute(select(func.count()).select_from(inbox).where(
            inbox.c.state.in_([InboxState.PENDING.value, InboxState.PROCESSING.value]))
        ).scalar_one()


def prune(older_than_seconds: float, now: float | None = None) -> int:
    """Forget finished rows older than the retention (the id claims go with them)."""
    cutoff = (time.time() if now is None else now) - older_than_seconds
    finished = [InboxState.DONE.value, InboxState.SILENT.value, InboxState.SKIPPED.value]
    with engine().begin() as conn:
        return conn.execute(delete(inbox).where(inbox.c.state.in_(finished),
                                                inbox.c.received_at < cutoff)).rowcount


# --- the console's and the privacy work's read API ---------------------------------------

def channel_events(conversation_id: str, kinds: Iterable[InboundKind] | None = None,
                   since: float | None = None) -> list[ChannelEvent]:
    """Events recorded for this conversation that were not turns, oldest first."""
    query = select(inbox).where(inbox.c.sender_digest == _digest(conversation_id),
                                inbox.c.state.in_([InboxState.SILENT.value,
                                                   InboxState.SKIPPED.value]))
    if kinds is not None:
        query = query.where(inbox.c.kind.in_([InboundKind(k).value for k in kinds]))
    if since is not None:
        query = query.where(inbox.c.received_at >= since)
    with engine().connect() as conn:
        return [ChannelEvent(InboundKind(r.kind), InboxState(r.state), r.received_at, r.meta_ts,
                             r.wamid_digest, r.related_digest, r.detail)
                for r in conn.execute(query.order_by(inbox.c.received_at, inbox.c.id))]


def recent_identity_changes(conversation_id: str,
                            since: float | None = None) -> list[ChannelEvent]:
    """Her security code changed (WhatsApp reinstalled, a new phone, or someone else's
    device): the console can warn the specialist on her open case."""
    return channel_events(conversation_id, [InboundKind.IDENTITY_CHANGE], since)


@dataclass(frozen=True)
class Revoke:
    """A message she deleted whose text may still be in her tracker."""

    id: int
    sender_digest: str
    message_digest: str
    received_at: float


def pending_revokes(limit: int = 100) -> list[Revoke]:
    """Deleted messages not yet removed from the tracker (``done_at`` is still empty)."""
    query = (select(inbox.c.id, inbox.c.sender_digest, inbox.c.related_digest,
                    inbox.c.received_at)
             .where(inbox.c.kind == InboundKind.REVOKE.value,
                    inbox.c.state == InboxState.SILENT.value, inbox.c.done_at.is_(None),
                    inbox.c.sender_digest.isnot(None), inbox.c.related_digest.isnot(None))
             .order_by(inbox.c.id).limit(limit))
    with engine().connect() as conn:
        return [Revoke(r.id, r.sender_digest, r.related_digest, r.received_at)
                for r in conn.execute(query)]


def mark_revokes_applied(ids: Collection[int], now: float | None = None) -> None:
    """Her tracker no longer holds the text of these deleted messages."""
    if ids:
        with engine().begin() as conn:
            conn.execute(update(inbox).where(inbox.c.id.in_(list(ids)))
                         .values(done_at=time.time() if now is None else now))


def revoked_message_digests(conversation_id: str, since: float | None = None) -> set[str]:
    """Digests of the message ids she deleted. Compare ``data_keyring().digest(message_id)``
    of a tracker user event with these to remove its text from the tracker and transcript."""
    return {e.related_digest for e in channel_events(conversation_id, [InboundKind.REVOKE], since)
            if e.related_digest}
