"""A message she deleted in WhatsApp (a ``revoke`` update) leaves her tracker too.

The channel stores each revoke as a silent inbox row with the keyed digest of the deleted
message's id (``channels.whatsapp.inbox.pending_revokes``). A Rasa instance
(``channels/whatsapp/runtime.py``) finds her conversation by the tracker's keyed digest,
takes her lock, and rewrites her tracker with the text of that user event removed: the
event's ``message_id`` (Meta's id, kept by Rasa) is digested and compared. The event itself
stays (the dialogue needs its intent), marked ``metadata.revoked``, so the console's
transcript says that she deleted a message there, and never what it said.

A revoke whose message has no turn yet (it arrives while the message still waits in the
inbox) is tried again for ``RETRY_SECONDS``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

from channels.whatsapp.inbox import Revoke, mark_revokes_applied, pending_revokes
from store.privacy import log_id

logger = logging.getLogger(__name__)

RETRY_SECONDS = 600.0
REVOKED = "revoked"  # metadata key of a user event whose text she deleted
DROPPED_METADATA = ("location", "caption", "reply_title", "title", "button_title")


def redact_event(event: dict[str, Any], digests: set[str], digest: Any) -> dict[str, Any]:
    """The event without her words if it is one of the deleted messages."""
    message_id = event.get("message_id")
    if event.get("event") != "user" or not message_id or digest(message_id) not in digests:
        return event
    parse_data = dict(event.get("parse_data") or {})
    parse_data.update(text="", entities=[])
    metadata = {k: v for k, v in (event.get("metadata") or {}).items()
                if k not in DROPPED_METADATA}
    metadata[REVOKED] = True
    return {**event, "text": "", "parse_data": parse_data, "metadata": metadata}


async def _apply(store: Any, lock_store: Any, sender_digest: str,
                 revokes: list[Revoke], now: float) -> list[int]:
    """Redact one conversation; the ids of the revokes that are settled."""
    conversation_id = await asyncio.to_thread(store.conversation_of, sender_digest)
    if conversation_id is None:
        return [r.id for r in revokes]  # no tracker (erased, purged): nothing to remove
    digests = {r.message_digest for r in revokes}
    found: set[str] = set()

    def change(event: dict[str, Any]) -> dict[str, Any]:
        redacted = redact_event(event, digests, store.keyring.digest)
        if redacted is not event:
            found.add(store.keyring.digest(event["message_id"]))
        return redacted

    async with lock_store.lock(conversation_id):
        changed = await asyncio.to_thread(store.rewrite, conversation_id, change)
    if changed:
        logger.info("removed %d deleted message(s) from conversation %s", changed,
                    log_id(conversation_id))
    return [r.id for r in revokes
            if r.message_digest in found or now - r.received_at > RETRY_SECONDS]


async def apply_pending(store: Any, lock_store: Any, now: float | None = None) -> int:
    """Remove the text of every deleted message still in a tracker; returns revokes settled."""
    now = time.time() if now is None else now
    by_sender: dict[str, list[Revoke]] = defaultdict(list)
    for revoke in await asyncio.to_thread(pending_revokes):
        by_sender[revoke.sender_digest].append(revoke)
    settled: list[int] = []
    for sender_digest, revokes in by_sender.items():
        settled += await _apply(store, lock_store, sender_digest, revokes, now)
    await asyncio.to_thread(mark_revokes_applied, settled, now)
    return len(settled)
