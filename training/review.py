"""The review queue's public face: what other parts of the service call.

- ``contradicted(level, outcome)``: the console's close step asks whether the specialist's
  outcome (training/outcomes.py) contradicts the level the assistant read;
- ``queue_closed_case(events, level, outcome)``: it then hands over the conversation's events
  and the user messages that produced the level are queued (redacted, unlinked);
- ``purge(now)``: deletes items older than RETENTION_DAYS (call it with the service's other
  purges, or ``python -m training purgar``);
- ``review_store()``: the process-wide store on DATABASE_URL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from handoff.states import Outcome
from store.retention import Horizon, register
from training.items import ReviewReason, ReviewStore
from training.outcomes import contradicted
from training.redaction import redact
from training.settings import ReviewSettings
from triage.levels import load_triage_map

logger = logging.getLogger(__name__)

__all__ = ["contradicted", "purge", "queue_closed_case", "review_store"]

MAX_TEXT = 1000  # characters kept of one message
MAX_FROM_ONE_CASE = 5


@lru_cache(maxsize=4)
def _store_for(url: str) -> ReviewStore:
    from store.db import shared_engine

    return ReviewStore(shared_engine(url))


def review_store() -> ReviewStore:
    from store.db import database_url

    return _store_for(database_url())


def purge(now: datetime | None = None, store: ReviewStore | None = None,
          settings: ReviewSettings | None = None) -> int:
    """Delete review items older than RETENTION_DAYS; returns how many went."""
    now = now or datetime.now(timezone.utc)
    settings = settings or ReviewSettings.from_env()
    cutoff = (now - timedelta(days=settings.retention_days)).date()
    removed = (store or review_store()).purge(cutoff)
    if removed:
        logger.info("Purged %s review items older than %s days.", removed,
                    settings.retention_days)
    return removed


@register("review_items")
def purge_for_retention(horizon: Horizon) -> int:
    """The review queue's share of the service's retention purge (store/retention.py)."""
    return purge(horizon.now, settings=ReviewSettings(retention_days=horizon.days))


def reading_summary(parse_data: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, float]]]:
    """The assistant's reading and its top candidates, as a review item keeps them."""
    reading = load_triage_map().reading_of(parse_data).as_dict()
    reading.pop("intent", None)
    ranking = [(str(r.get("name")), round(float(r.get("confidence") or 0.0), 3))
               for r in (parse_data.get("intent_ranking") or [])[:5] if r.get("name")]
    signals = parse_data.get("signals") if isinstance(parse_data.get("signals"), Mapping) else {}
    reading["now"] = signals.get("now")
    reading["person"] = signals.get("person")
    return reading, ranking


def user_text(event: Mapping[str, Any]) -> str | None:
    """Her words in a user event; None for payloads, media placeholders and empty text."""
    text = str(event.get("text") or "").strip()
    if not text or text.startswith("/"):
        return None
    return text[:MAX_TEXT]


def queue_closed_case(events: Iterable[Mapping[str, Any]], level: str, outcome: str,
                      store: ReviewStore | None = None) -> int:
    """Queue the messages of a closed case whose outcome contradicts ``level``.

    The messages read at ``level`` are the misread ones (at most the last five); if none was,
    her last messages. Returns how many were queued (0 when nothing is contradicted).
    """
    if not contradicted(level, outcome):
        return 0
    messages = []
    for event in events:
        text = user_text(event) if event.get("event") == "user" else None
        if text:
            reading, ranking = reading_summary(event.get("parse_data") or {})
            messages.append((text, reading, ranking))
    chosen = [m for m in messages if m[1].get("level") == level] or messages
    store = store or review_store()
    settings = ReviewSettings.from_env()
    queued = 0
    for text, reading, ranking in chosen[-MAX_FROM_ONE_CASE:]:
        if store.add(redact(text), [ReviewReason.CONTRADICTED], reading, ranking,
                     outcome=Outcome(outcome).value, max_items=settings.max_items):
            queued += 1
    return queued
