"""Which channel processes are alive (heartbeats), and named leases between them.

Several Rasa instances share the inbox and the outbox. Each one beats every few seconds; the
work held by an instance whose heartbeat is older than ``stale_seconds`` (killed, out of
memory, machine gone) goes back to the queue. One lease, ``sender``, makes exactly one
instance send the outbox, so Meta's rate limits and the order per recipient are one
process's job.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from channels.whatsapp.tables import engine, instances, leases

SENDER_LEASE = "sender"
FORGET_AFTER_SECONDS = 24 * 3600


def new_instance_id() -> str:
    """Unique per process start: host, pid and a random part (no personal data)."""
    host = "".join(c for c in socket.gethostname() if c.isalnum() or c in "-.")[:24]
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def beat(instance_id: str, now: float | None = None) -> None:
    """Record that this instance is alive."""
    now = time.time() if now is None else now
    with engine().begin() as conn:
        updated = conn.execute(update(instances).where(instances.c.instance_id == instance_id)
                               .values(heartbeat_at=now)).rowcount
    if updated:
        return
    try:
        with engine().begin() as conn:
            conn.execute(insert(instances).values(instance_id=instance_id, started_at=now,
                                                  heartbeat_at=now))
    except IntegrityError:  # a concurrent beat of the same instance inserted it
        pass


def forget(instance_id: str) -> None:
    """Remove this instance (clean stop): its work is released by the caller."""
    with engine().begin() as conn:
        conn.execute(delete(instances).where(instances.c.instance_id == instance_id))


def prune(now: float | None = None) -> int:
    """Forget instances silent for a day (rows of stopped processes)."""
    cutoff = (time.time() if now is None else now) - FORGET_AFTER_SECONDS
    with engine().begin() as conn:
        return conn.execute(delete(instances).where(instances.c.heartbeat_at < cutoff)).rowcount


def live_ids_query(cutoff: float):
    """A subquery of the ids of instances that beat since ``cutoff``."""
    return select(instances.c.instance_id).where(instances.c.heartbeat_at >= cutoff)


def acquire_lease(name: str, holder: str, ttl: float, now: float | None = None) -> bool:
    """Take or renew the lease ``name`` for ``ttl`` seconds; False if another holds it."""
    now = time.time() if now is None else now
    with engine().begin() as conn:
        renewed = conn.execute(
            update(leases)
            .where(leases.c.name == name,
                   or_(leases.c.holder == holder, leases.c.expires_at < now))
            .values(holder=holder, expires_at=now + ttl)).rowcount
        if renewed:
            return True
        exists = conn.execute(select(leases.c.name).where(leases.c.name == name)).first()
    if exists:
        return False
    try:
        with engine().begin() as conn:
            conn.execute(insert(leases).values(name=name, holder=holder, expires_at=now + ttl))
        return True
    except IntegrityError:
        return False


def release_lease(name: str, holder: str) -> None:
    """Give the lease up at once (clean stop), so another instance takes over."""
    with engine().begin() as conn:
        conn.execute(update(leases).where(leases.c.name == name, leases.c.holder == holder)
                     .values(holder=None, expires_at=0.0))
