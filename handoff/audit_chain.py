"""The audit log is append-only: every entry is chained to the one before it by a keyed hash.

``chain_hash`` of an entry = HMAC(key, previous entry's ``chain_hash`` + its id, time, agent,
action, ticket and ``detail_mac``), where ``detail_mac`` is a keyed digest of its detail. The
key is derived from the data key ring (``KeyRing.digest``, stable across rotations), so an
insider with database access but without ``HELPLINE_DATA_KEY`` cannot edit, delete or insert an
entry and recompute the links after it. The retention purge may blank old details: the chain
covers ``detail_mac``, which stays, so purged entries still verify (a detail that is present
must match its mac).

Appends are serialized so that two transactions never chain to the same previous entry: on
PostgreSQL the table is locked (SHARE ROW EXCLUSIVE, until commit); on SQLite a no-op UPDATE
takes the database's write lock first. Either way the lock is taken before the new row gets
its id, so ids follow chain order.

Verify (exit 0 when intact, 1 with the first broken entry otherwise)::

    python -m handoff.audit_chain verify

Entries an older version wrote before the upgrade are chained by the upgrade, as they were
found; stop older versions before upgrading (an entry one writes afterwards stays unchained, and
``verify`` reports it). Not detected: cutting entries off the end of the log (nothing after
them breaks); keep the head that ``verify`` prints somewhere else (a ticketing system, a daily
e-mail) to check that.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from handoff.models import AuditEntry

GENESIS = "0" * 64
BATCH = 1000

Mac = Callable[[str], str]


def default_mac(value: str) -> str:
    from store.crypto import data_keyring

    return data_keyring().digest(value)


def detail_mac(detail: str | None, mac: Mac = default_mac) -> str | None:
    return None if detail is None else mac(f"audit-detail:v1:{detail}")


def link(previous: str, entry: AuditEntry, mac: Mac = default_mac) -> str:
    """The chain hash of ``entry`` after ``previous``."""
    fields = [previous, entry.id, entry.at.isoformat(timespec="microseconds"), entry.agent_id,
              entry.action, entry.ticket_id, entry.detail_mac]
    return mac("audit-chain:v1:" + json.dumps(fields, separators=(",", ":"),
                                               ensure_ascii=False))


# ---------------------------------------------------------------------------- append
def lock_log(s: Session) -> None:
    """Hold the audit log's append lock until the transaction ends."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("LOCK TABLE handoff_audit IN SHARE ROW EXCLUSIVE MODE"))
    else:  # SQLite: any write statement takes the database's one write lock
        s.execute(text("UPDATE handoff_audit SET chain_hash = chain_hash WHERE 1 = 0"))


def _last_chained(s: Session) -> tuple[str, int] | None:
    last = s.execute(select(AuditEntry.id, AuditEntry.chain_hash)
                     .where(AuditEntry.chain_hash.is_not(None))
                     .order_by(AuditEntry.id.desc()).limit(1)).first()
    return (last.chain_hash, last.id) if last else None


def append(s: Session, entry: AuditEntry, mac: Mac = default_mac) -> None:
    """Add ``entry`` to the log, chained to the last chained entry, in the caller's
    transaction. An unchained entry in between (edited by hand, or written by an older
    version still running) is never sealed after the fact: ``verify`` reports it."""
    lock_log(s)
    last = _last_chained(s)
    entry.detail_mac = detail_mac(entry.detail, mac)
    s.add(entry)
    s.flush()  # the id, allocated under the lock
    entry.chain_hash = link(last[0] if last else GENESIS, entry, mac)


def seal_legacy(engine: Engine, mac: Mac = default_mac) -> int:
    """Upgrade: chain the entries written before the chain existed. Called only by the
    upgrade that adds the chain's columns, and only while no entry is chained yet: sealing
    unchained entries later would launder tampering."""
    with Session(engine, future=True) as s, s.begin():
        lock_log(s)
        if _last_chained(s) is not None:
            return 0
        previous = GENESIS
        entries = s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
        for entry in entries:
            entry.detail_mac = detail_mac(entry.detail, mac)
            entry.chain_hash = previous = link(previous, entry, mac)
        return len(entries)


# ---------------------------------------------------------------------------- verify
@dataclass(frozen=True)
class Verdict:
    checked: int
    head: str
    broken_id: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def _entries(engine: Engine) -> Iterator[AuditEntry]:
    after = 0
    while True:
        with Session(engine, future=True) as s:
            batch = s.execute(select(AuditEntry).where(AuditEntry.id > after)
                              .order_by(AuditEntry.id).limit(BATCH)).scalars().all()
        if not batch:
            return
        yield from batch
        after = batch[-1].id


def _fault(previous: str, entry: AuditEntry, mac: Mac) -> str:
    if entry.chain_hash is None:
        return "not chained"
    if entry.detail is not None and entry.detail_mac != detail_mac(entry.detail, mac):
        return "detail changed"
    if entry.chain_hash != link(previous, entry, mac):
        return "hash does not follow from the previous entry (changed, inserted or deleted)"
    return ""


def verify(engine: Engine, mac: Mac = default_mac) -> Verdict:
    """Walk the log in id order; the first entry whose link does not hold, if any."""
    previous, checked = GENESIS, 0
    for entry in _entries(engine):
        fault = _fault(previous, entry, mac)
        if fault:
            return Verdict(checked, previous, entry.id, fault)
        previous, checked = entry.chain_hash, checked + 1
    return Verdict(checked, previous)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["verify"]:
        print("uso: python -m handoff.audit_chain verify", file=sys.stderr)
        return 2
    from store.db import make_engine

    engine = make_engine()
    try:
        verdict = verify(engine)
    finally:
        engine.dispose()
    if verdict.ok:
        print(f"bitácora íntegra: {verdict.checked} entradas; cabeza {verdict.head}")
        return 0
    print(f"bitácora alterada: la entrada {verdict.broken_id} falla ({verdict.reason}); "
          f"{verdict.checked} entradas anteriores íntegras", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
