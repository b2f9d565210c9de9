"""The per-instance cache of deserialised trackers behind ``store.tracker_store``.

Rasa's SQL tracker store rebuilds a conversation on every turn: it reads every event of the
session, parses each one and replays them all, and then does it a second time inside
``save`` to find which events are new. A turn therefore costs more the longer she writes.
This cache keeps, per conversation, the tracker as it was last read or saved together with
the id of the newest event row it includes; the store then reads only rows with a higher id.

Why it is safe with several Rasa instances: every change to a conversation is made under
Rasa's lock for that conversation (the lock store; Redis in production), so its rows are
written one save after another, each save in one transaction. A reader sees a prefix of
that sequence, never a gap, and the next read continues from where it stopped. Rows that
disappear (erasure, retention purge) are detected because the cached last row is no longer
there, and the whole conversation is read again.

Trackers are mutable and Rasa changes the one it is given; the cache therefore hands out
and keeps *twins* (``store.tracker_states.twin``): new tracker objects with their own event
list, slots and loop state that share the (never modified) event objects, so a copy costs a
list copy, not a replay; they also carry the featurised history forward.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from rasa.shared.core.trackers import DialogueStateTracker

from store.tracker_states import twin

__all__ = ["ORIGIN_ATTRIBUTE", "CachedTracker", "TrackerCache", "twin"]

# attribute put on every tracker handed out: (conversation digest, last row id it includes)
ORIGIN_ATTRIBUTE = "_helpline_origin"


@dataclass
class CachedTracker:
    """A conversation as of row ``last_id``; ``session_events`` rows since its session start."""

    tracker: DialogueStateTracker
    last_id: int
    session_events: int


class TrackerCache:
    """A bounded, least-recently-used map: conversation digest → ``CachedTracker``."""

    def __init__(self, max_entries: int = 1000) -> None:
        self.max_entries = max(0, int(max_entries))
        self._entries: OrderedDict[str, CachedTracker] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> CachedTracker | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def put(self, key: str, entry: CachedTracker) -> None:
        if self.max_entries == 0:
            return
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
