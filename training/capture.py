"""Capture from the Rasa side: which user messages go to the review queue.

``consider(event)`` is called by the event broker (handoff/escalation.py) for every tracker
event. It decides in microseconds from the parse data the NLU already produced, and hands the
few messages worth reviewing to one background thread that redacts, encrypts and stores them:
a turn never waits for the database, and a full or failing queue only drops review items.

A message is worth reviewing when (training/items.py, ReviewReason):

- the assistant fell back (``nlu_fallback``) or its top intent was below REVIEW_LOW_CONFIDENCE;
- the «more dangerous reading» rule (or a safety-net rule) changed the top intent;
- the signals disagree with the kind: «danger now» or «asks for a person» within
  REVIEW_SIGNAL_BAND of its floor in data/triage.yml, danger now read on a calm kind, or no
  danger now on an emergency kind.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping
from typing import Any

from training.items import ReviewReason, ReviewStore
from training.redaction import redact
from training.settings import ReviewSettings
from triage.levels import (
    DANGER_LEVELS,
    FALLBACK_INTENT,
    PERSON_INTENT,
    Assessment,
    Signals,
    TriageMap,
    load_triage_map,
)

logger = logging.getLogger(__name__)

PENDING_LIMIT = 1000  # messages waiting for the writer thread; beyond it new ones are dropped


def _near(value: float | None, floor: float, band: float) -> bool:
    return value is not None and floor - band <= value < floor + band


def _signal_reasons(reading: Assessment, signals: Signals, triage_map: TriageMap,
                    band: float) -> bool:
    kind_level = triage_map.rule_for(reading.kind).level
    floors = triage_map.floors
    if signals.now is not None:
        if kind_level in DANGER_LEVELS:
            floor = floors.get("ahora", 0.5)
            if kind_level == "risk" and _near(signals.now, floor, band):
                return True
            if kind_level == "emergency" and signals.now < floor - band:
                return True
        elif signals.now >= floors.get("ahora_sin_violencia", 0.5) - band:
            return True  # danger now (or nearly) on a question or a conversation
    if signals.person is not None:
        floor = floors.get("pide_persona", 0.5)
        if _near(signals.person, floor, band):
            return True
        if reading.kind == PERSON_INTENT and signals.person < floor - band:
            return True
    return False


def reasons_for(parse_data: Mapping[str, Any], triage_map: TriageMap,
                settings: ReviewSettings) -> list[ReviewReason]:
    """Why this parsed message deserves review (empty: it does not)."""
    reading = triage_map.reading_of(parse_data)
    ranking = parse_data.get("intent_ranking") or []
    top = ranking[0] if ranking else (parse_data.get("intent") or {})
    top_name, top_confidence = top.get("name"), float(top.get("confidence") or 0.0)
    reasons = []
    if reading.kind == FALLBACK_INTENT or (parse_data.get("intent") or {}).get("name") \
            == FALLBACK_INTENT:
        reasons.append(ReviewReason.FALLBACK)
    elif top_name and top_confidence < settings.low_confidence:
        reasons.append(ReviewReason.LOW_CONFIDENCE)
    if reading.promoted_from:
        reasons.append(ReviewReason.PROMOTED)
    if _signal_reasons(reading, Signals.from_parse_data(parse_data), triage_map,
                       settings.signal_band):
        reasons.append(ReviewReason.SIGNALS)
    return reasons


class _Writer:
    """One daemon thread that redacts and stores queued messages, in order."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=PENDING_LIMIT)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.store: ReviewStore | None = None  # tests set their own

    def put(self, work: tuple) -> None:
        try:
            self._queue.put_nowait(work)
        except queue.Full:
            logger.warning("Review capture is behind; one message was not queued for review.")
            return
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="review-capture",
                                                    daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            work = self._queue.get()
            try:
                self._write(*work)
            except Exception:  # noqa: BLE001 - never let one message stop the thread
                logger.exception("Could not store a review item (text not logged).")
            finally:
                self._queue.task_done()

    def _write(self, text: str, parse_data: Mapping[str, Any], reasons: list[ReviewReason],
               max_items: int) -> None:
        from training.review import reading_summary, review_store

        reading, ranking = reading_summary(parse_data)
        store = self.store or review_store()
        store.add(redact(text), reasons, reading, ranking, max_items=max_items)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued message is stored (tests, shutdown)."""
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        return done.wait(timeout)


writer = _Writer()
_settings: ReviewSettings | None = None


def settings() -> ReviewSettings:
    global _settings
    if _settings is None:
        _settings = ReviewSettings.from_env()
    return _settings


def consider(event: dict) -> None:
    """Queue a user event for review when it deserves it. Never raises, never blocks."""
    try:
        if event.get("event") != "user":
            return
        from training.review import user_text

        text = user_text(event)
        parse_data = event.get("parse_data")
        if text is None or not isinstance(parse_data, Mapping):
            return
        current = settings()
        reasons = reasons_for(parse_data, load_triage_map(), current)
        if reasons:
            writer.put((text, parse_data, reasons, current.max_items))
    except Exception:  # noqa: BLE001 - the broker must never fail because of review capture
        logger.exception("Review capture failed on an event (text not logged).")


def flush(timeout: float = 10.0) -> bool:
    return writer.flush(timeout)
