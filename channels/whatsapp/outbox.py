"""The outbox: every call we make to her phone is a row with a state.

Bot turns, specialists' replies (a ``bot`` event posted to Rasa's HTTP API), escalation
messages and read receipts are stored here (payload and recipient sealed with
``store.crypto``), then sent by the one sender loop (``sender.py``). A row's ``key`` makes a
replayed turn or a repeated call insert nothing new.

For the console: ``states_for(conversation_id, since=..., client_ref=...)`` and
``reply_state(conversation_id, client_ref)`` give the delivery state of her messages, with
Meta's code and its Spanish meaning when a message did not leave (see README).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, func, or_, select, update

from channels.whatsapp.errors import spanish_meaning
from channels.whatsapp.inbound import InboundStatus
from channels.whatsapp.tables import engine, insert_ignoring_duplicates, outbox
from store.crypto import data_keyring

CALLBACK_PREFIX = "ob."


class OutboxState(str, Enum):
    PENDING = "pending"  # stored; waiting for the sender (also between tries of a retry)
    SENDING = "sending"  # handed to the Graph API, outcome not recorded yet
    SENT = "sent"  # Meta accepted it (its message id is stored); see delivered_at, read_at
    FAILED = "failed"  # Meta refused it (error_code) or we gave up (failure_reason)


FINAL_STATES = (OutboxState.SENT.value, OutboxState.FAILED.value)
OPEN_STATES = (OutboxState.PENDING.value, OutboxState.SENDING.value)


class OutboundKind(str, Enum):
    MESSAGE = "message"  # a message she sees
    READ = "read"  # the read receipt of one of her messages (after its turn)


@dataclass(frozen=True)
class OutboundRequest:
    """One Graph API call to store. ``message`` is the message object without ``to``."""

    key: str
    recipient: str
    message: dict[str, Any]
    kind: OutboundKind = OutboundKind.MESSAGE
    source: str = "bot"
    client_ref: str | None = None
    turn_digest: str | None = None


@dataclass(frozen=True)
class DeliveryState:
    """The delivery state of one message to her (no text, no number)."""

    id: int
    state: OutboxState
    source: str
    client_ref: str | None
    created_at: float
    sent_at: float | None
    delivered_at: float | None
    read_at: float | None
    failed_at: float | None
    error_code: int | None
    meaning: str | None  # Spanish, when failed
    attempts: int

    @property
    def left(self) -> bool:
        """True once Meta accepted the message."""
        return self.state is OutboxState.SENT


def digest(value: str) -> str:
    return data_keyring().digest(value)


# --- writing ---------------------------------------------------------------------------------

def outbound_row(request: OutboundRequest, now: float) -> dict[str, Any]:
    ring = data_keyring()
    return {
        "key": request.key[:160],
        "recipient_digest": ring.digest(request.recipient),
        "recipient": ring.encrypt_text(request.recipient),
        "payload": ring.encrypt_json(request.message),
        "kind": request.kind.value,
        "source": (request.source or "bot")[:32],
        "client_ref": request.client_ref[:64] if request.client_ref else None,
        "turn_digest": request.turn_digest,
        "state": OutboxState.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def enqueue(requests: list[OutboundRequest], now: float | None = None) -> None:
    """Store the requests in one transaction; a key already stored is left as it is."""
    if not requests:
        return
    now = time.time() if now is None else now
    with engine().begin() as conn:
        insert_ignoring_duplicates(conn, outbox, [outbound_row(r, now) for r in requests], "key")


# --- the console's read API ---------------------------------------------------------------

def _state_of(row: Any) -> DeliveryState:
    state = OutboxState(row.state)
    failed = state is OutboxState.FAILED
    return DeliveryState(
        id=row.id, state=state, source=row.source, client_ref=row.client_ref,
        created_at=row.created_at, sent_at=row.sent_at, delivered_at=row.delivered_at,
        read_at=row.read_at, failed_at=row.failed_at, error_code=row.error_code,
        meaning=spanish_meaning(row.error_code, row.failure_reason) if failed else None,
        attempts=row.attempts)


def states_for(conversation_id: str, since: float | None = None,
               client_ref: str | None = None) -> list[DeliveryState]:
    """Delivery states of the messages to this conversation (oldest first), created at or
    after ``since`` (epoch seconds), optionally only those of one ``client_ref``."""
    query = select(outbox).where(outbox.c.recipient_digest == digest(conversation_id),
                                 outbox.c.kind == OutboundKind.MESSAGE.value)
    if since is not None:
        query = query.where(outbox.c.created_at >= since)
    if client_ref is not None:
        query = query.where(outbox.c.client_ref == client_ref[:64])
    with engine().connect() as conn:
        return [_state_of(row) for row in conn.execute(query.order_by(outbox.c.id))]


def reply_state(conversation_id: str, client_ref: str) -> DeliveryState | None:
    """One reply (all its parts, if it was split): failed if any part failed, pending while any
    part is on its way, else sent. None if Rasa did not hand it to the channel."""
    parts = states_for(conversation_id, client_ref=client_ref)
    if not parts:
        return None
    for state in (OutboxState.FAILED, OutboxState.SENDING, OutboxState.PENDING):
        for part in parts:
            if part.state is state:
                return part
    return parts[-1]


# --- the sender's side -----------------------------------------------------------------------

@dataclass(frozen=True)
class OutboxRow:
    id: int
    recipient_digest: str
    recipient: str | None  # sealed
    payload: str | None  # sealed
    kind: OutboundKind
    attempts: int
    created_at: float

    @property
    def callback(self) -> str:
        """Our ``biz_opaque_callback_data``: Meta returns it in the statuses of the message."""
        return f"{CALLBACK_PREFIX}{self.id}"


def heads(limit: int, now: float | None = None) -> list[OutboxRow]:
    """Per recipient, the oldest open row if it is due (nothing earlier pending or sending)."""
    now = time.time() if now is None else now
    row, earlier = outbox.alias("row"), outbox.alias("earlier")
    blocked = select(earlier.c.id).where(
        earlier.c.recipient_digest == row.c.recipient_digest,
        earlier.c.state.in_(OPEN_STATES), earlier.c.id < row.c.id).exists()
    query = (select(row.c.id, row.c.recipient_digest, row.c.recipient, row.c.payload,
                    row.c.kind, row.c.attempts, row.c.created_at)
             .where(row.c.state == OutboxState.PENDING.value, row.c.next_attempt_at <= now,
                    ~blocked)
             .order_by(row.c.id).limit(limit))
    with engine().connect() as conn:
        return [OutboxRow(r.id, r.recipient_digest, r.recipient, r.payload,
                          OutboundKind(r.kind), r.attempts, r.created_at)
                for r in conn.execute(query)]


def has_open_rows() -> bool:
    with engine().connect() as conn:
        return conn.execute(select(outbox.c.id).where(outbox.c.state.in_(OPEN_STATES))
                            .limit(1)).first() is not None


def mark_sending(row_ids: Sequence[int], instance_id: str,
                 now: float | None = None) -> set[int]:
    """Take these pending rows for sending, in one transaction; the ids actually taken."""
    now = time.time() if now is None else now
    statement = (update(outbox)
                 .where(outbox.c.id == bindparam("row_id"),
                        outbox.c.state == OutboxState.PENDING.value)
                 .values(state=OutboxState.SENDING.value, taken_by=instance_id,
                         attempted_at=now, attempts=outbox.c.attempts + 1))
    with engine().begin() as conn:
        return {row_id for row_id in row_ids
                if conn.execute(statement, {"row_id": row_id}).rowcount == 1}


def _final(state: OutboxState, **values: Any) -> dict[str, Any]:
    """A final state: the sealed payload and recipient are no longer needed."""
    return {"state": state.value, "payload": None, "recipient": None, **values}


def mark_sent(row_id: int, wamid: str | None, now: float | None = None) -> None:
    mark_sent_many([(row_id, wamid, time.time() if now is None else now)])


def mark_sent_many(accepted: Sequence[tuple[int, str | None, float]]) -> None:
    """(row id, Meta's message id, when) of messages Meta accepted, in one transaction (one
    statement, executed for every row). A row marked again keeps its first time and id."""
    if not accepted:
        return
    ring = data_keyring()
    statement = (update(outbox)
                 .where(outbox.c.id == bindparam("row_id"),
                        outbox.c.state != OutboxState.FAILED.value)
                 .values(**_final(OutboxState.SENT),
                         wamid_digest=func.coalesce(
                             bindparam("digest", type_=outbox.c.wamid_digest.type),
                             outbox.c.wamid_digest),
                         wamid=func.coalesce(bindparam("sealed", type_=outbox.c.wamid.type),
                                             outbox.c.wamid),
                         sent_at=func.coalesce(outbox.c.sent_at,
                                               bindparam("now", type_=outbox.c.sent_at.type))))
    rows = [{"row_id": row_id, "now": now,
             "digest": ring.digest(wamid) if wamid else None,
             "sealed": ring.encrypt_text(wamid) if wamid else None}
            for row_id, wamid, now in accepted]
    with engine().begin() as conn:
        conn.execute(statement, rows)


def retry_later(row_id: int, at: float, error_code: int | None) -> None:
    """Back to pending until ``at`` (a transient failure); the code stays for diagnosis."""
    with engine().begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == row_id,
                                          outbox.c.state == OutboxState.SENDING.value)
                     .values(state=OutboxState.PENDING.value, next_attempt_at=at,
                             error_code=error_code, taken_by=None))


def mark_failed(row_id: int, error_code: int | None, reason: str | None = None,
                now: float | None = None) -> None:
    now = time.time() if now is None else now
    with engine().begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == row_id,
                                          outbox.c.state.in_(OPEN_STATES))
                     .values(**_final(OutboxState.FAILED, error_code=error_code,
                                      failure_reason=reason, failed_at=now)))


def reconcile_interrupted(instance_id: str, older_than: float) -> int:
    """Rows left ``sending`` by another (dead or former) sender before ``older_than``, whose
    status never came: send them again. Returns how many."""
    with engine().begin() as conn:
        return conn.execute(
            update(outbox).where(outbox.c.state == OutboxState.SENDING.value,
                                 or_(outbox.c.taken_by.is_(None),
                                     outbox.c.taken_by != instance_id),
                                 outbox.c.attempted_at < older_than)
            .values(state=OutboxState.PENDING.value, taken_by=None)).rowcount


def prune(older_than_seconds: float, now: float | None = None) -> int:
    """Forget finished rows (no content left in them) older than the retention."""
    cutoff = (time.time() if now is None else now) - older_than_seconds
    with engine().begin() as conn:
        return conn.execute(delete(outbox).where(outbox.c.state.in_(FINAL_STATES),
                                                 outbox.c.created_at < cutoff)).rowcount


# --- statuses from the webhook (inside its transaction) --------------------------------------

def _callback_id(callback: str | None) -> int | None:
    """Our outbox row id inside Meta's callback data; None for anything else (a forged or
    garbled value must not reach the database as an out-of-range integer)."""
    if not callback or not callback.startswith(CALLBACK_PREFIX):
        return None
    digits = callback[len(CALLBACK_PREFIX):]
    if digits.isascii() and digits.isdigit() and len(digits) <= 18:
        return int(digits)
    return None


def apply_status(conn: Any, status: InboundStatus, now: float) -> bool:
    """Record Meta's status of one of our messages on its row; False if it is not ours."""
    row_id = _callback_id(status.callback)
    where = (outbox.c.id == row_id if row_id is not None
             else outbox.c.wamid_digest == digest(status.message_id))
    at = float(status.timestamp) if status.timestamp else now
    if status.status == "failed":
        values = _final(OutboxState.FAILED, error_code=status.error_code,
                        failed_at=func.coalesce(outbox.c.failed_at, at))
    elif status.status in ("sent", "delivered", "read"):
        values = _final(OutboxState.SENT, sent_at=func.coalesce(outbox.c.sent_at, at))
        if status.status in ("delivered", "read"):
            values["delivered_at"] = func.coalesce(outbox.c.delivered_at, at)
        if status.status == "read":
            values["read_at"] = func.coalesce(outbox.c.read_at, at)
    else:
        return False
    values["wamid_digest"] = func.coalesce(outbox.c.wamid_digest, digest(status.message_id))
    values["wamid"] = case((outbox.c.wamid.is_(None),
                            data_keyring().encrypt_text(status.message_id)),
                           else_=outbox.c.wamid)
    if status.status != "failed":  # a late "sent" never undoes Meta's own "failed"
        where = and_(where, or_(outbox.c.state != OutboxState.FAILED.value,
                                outbox.c.failure_reason.isnot(None)))
    return bool(conn.execute(update(outbox).where(where).values(**values)).rowcount)
