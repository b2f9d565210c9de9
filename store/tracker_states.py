"""A tracker whose dialogue history is featurised once, not again on every prediction.

Each Rasa policy asks the tracker for its ``past_states``: the state before every action of
the session. Rasa computes them from scratch each time (it replays every event into a fresh
tracker and builds a state at each action), three policies at a time, several predictions a
turn. With a cached tracker (``store.tracker_cache``) this is what still made a turn at the
200th message several times slower than at the 2nd.

``IncrementalStatesTracker.past_states`` keeps, per argument combination, what Rasa's
``Domain.states_for_tracker_history`` had computed (the applied events, the replayed prior
tracker and the states) and, when events were only appended since, continues from there. The
rule it follows is Rasa 3.6's own, step by step; whenever a new event could change the past
(a restart or new session, a reverted action or utterance, a loop's unhappy path undone, a
loop name seen for the first time) it recomputes everything exactly as Rasa does.
``tests/store/test_tracker_states.py`` checks the result against Rasa's after every turn.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import rasa.shared.core.constants as core_constants
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    UserUtteranceReverted,
)
from rasa.shared.core.trackers import DialogueStateTracker

# events after which the applied history must be computed again from the start
_REWRITES_HISTORY = (Restarted, SessionStarted, ActionReverted, UserUtteranceReverted)


@dataclass
class _AppliedMemo:
    """``applied_events`` as it was after ``events_seen`` events of the tracker."""

    events_seen: int
    last_event: Event | None
    loop_names: set[str]
    applied: list[Event]

    @classmethod
    def empty_for(cls, events: list[Event]) -> _AppliedMemo:
        return cls(len(events), events[-1] if events else None, _loop_names(events), [])

    def copy(self) -> _AppliedMemo:
        return _AppliedMemo(self.events_seen, self.last_event, set(self.loop_names),
                            list(self.applied))


@dataclass
class _StatesMemo:
    """``states_for_tracker_history`` stopped after the events of ``history``."""

    history: _AppliedMemo
    prior: DialogueStateTracker
    states: list[State] = field(default_factory=list)
    last_ml_action: Any = None
    turn_was_hidden: bool = False

    def copy(self) -> _StatesMemo:
        return _StatesMemo(self.history.copy(), _copy_state(self.prior), list(self.states),
                           self.last_ml_action, self.turn_was_hidden)


def _loop_names(events: Iterable[Event]) -> set[str]:
    return {e.name for e in events if isinstance(e, ActiveLoop) and e.name}


class IncrementalStatesTracker(DialogueStateTracker):
    """A ``DialogueStateTracker`` that featurises only the events added since last time."""

    _memos: dict[tuple, _StatesMemo]

    def past_states(self, domain: Domain, omit_unset_slots: bool = False,
                    ignore_rule_only_turns: bool = False,
                    rule_only_data: dict[str, Any] | None = None) -> list[State]:
        memos = self.__dict__.setdefault("_memos", {})
        key = (id(domain), omit_unset_slots, ignore_rule_only_turns, _frozen(rule_only_data))
        flags = (omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        memo = memos.get(key)
        if memo is None or not self._extend(memo, domain, flags):
            memo = self._fresh_memo(domain, flags)
            memos[key] = memo
        # the state of the tracker as it is now (Rasa's final ``yield tracker, False``)
        states = list(memo.states)
        _state_step(domain, memo.prior, False, flags, states, [memo.last_ml_action,
                                                               memo.turn_was_hidden])
        return states

    def copy(self) -> IncrementalStatesTracker:
        """Rasa's ``copy`` replays every event into a new tracker (the processor copies the
        tracker before each action); the state is the same without the replay."""
        return twin(self)

    def forget_states(self) -> None:
        self.__dict__.pop("_memos", None)
        self.__dict__.pop("_applied_memo", None)

    # --- memo maintenance ---------------------------------------------------------------
    def _fresh_memo(self, domain: Domain, flags: tuple) -> _StatesMemo:
        memo = _StatesMemo(_AppliedMemo.empty_for(list(self.events)), self.init_copy())
        for event in self.applied_events():
            memo.history.applied.append(event)
            self._apply(memo, domain, flags, event)
        return memo

    def _extend(self, memo: _StatesMemo, domain: Domain, flags: tuple) -> bool:
        """Continue ``memo`` with the events added since; False if it cannot be continued
        (the memo is then left half-continued and must be dropped)."""
        return self._continue(memo.history,
                              lambda event: self._apply(memo, domain, flags, event))

    def _continue(self, memo: _AppliedMemo,
                  on_event: Callable[[Event], None] | None = None) -> bool:
        """Append the events added since ``memo`` was made as Rasa would, calling
        ``on_event`` for each; False, with ``memo.applied`` as it was, if the event list
        changed otherwise or a new event rewrites or undoes what came before."""
        new = self._appended_since(memo.events_seen, memo.last_event, memo.loop_names)
        if new is None:
            return False
        start = len(memo.applied)
        for event in new:
            if self._undoes_loop_turns(event, memo.loop_names, memo.applied):
                del memo.applied[start:]
                return False
            memo.applied.append(event)
            if on_event is not None:
                on_event(event)
        if new:
            memo.events_seen, memo.last_event = len(self.events), new[-1]
        return True

    def _appended_since(self, seen: int, last: Event | None,
                        loop_names: set[str]) -> list[Event] | None:
        """The events appended after the first ``seen`` (ending with ``last``), or None if
        the list changed otherwise or a new event could rewrite what came before."""
        events = self.events
        if len(events) < seen or (seen and events[seen - 1] is not last):
            return None
        new = [events[i] for i in range(seen, len(events))]
        if any(isinstance(e, _REWRITES_HISTORY) for e in new) or \
                not _loop_names(new) <= loop_names:
            return None
        return new

    def _undoes_loop_turns(self, event: Event, loop_names: set[str],
                           applied: list[Event]) -> bool:
        """Rasa would undo earlier loop turns at this event (a loop's unhappy path)."""
        return isinstance(event, ActionExecuted) and event.action_name in loop_names \
            and not self._first_loop_execution_or_unhappy_path(event.action_name, applied)

    def applied_events(self) -> list[Event]:
        """Rasa's ``applied_events``, continued from the last call when events were only
        appended. Rasa recomputes it from the first event several times a turn (is the
        tracker empty, has the session expired, which was the last message)."""
        memo = self.__dict__.get("_applied_memo")
        if memo is not None and self._continue(memo):
            return list(memo.applied)
        memo = _AppliedMemo.empty_for(list(self.events))
        memo.applied.extend(super().applied_events())
        self.__dict__["_applied_memo"] = memo
        return list(memo.applied)

    @staticmethod
    def _apply(memo: _StatesMemo, domain: Domain, flags: tuple, event: Event) -> None:
        """One step of Rasa's ``generate_all_prior_trackers`` + ``states_for_tracker_history``
        (the event is already in ``memo.history.applied``)."""
        if isinstance(event, ActionExecuted):
            carry = [memo.last_ml_action, memo.turn_was_hidden]
            _state_step(domain, memo.prior, event.hide_rule_turn, flags, memo.states, carry)
            memo.last_ml_action, memo.turn_was_hidden = carry
        memo.prior.update(event)


def _state_step(domain: Domain, tr: DialogueStateTracker, hide_rule_turn: bool, flags: tuple,
                states: list[State], carry: list) -> None:
    """The body of Rasa 3.6's ``Domain.states_for_tracker_history`` loop, for one prior
    tracker; ``carry`` holds its two loop variables (last ML action, turn hidden)."""
    omit_unset_slots, ignore_rule_only_turns, rule_only_data = flags
    if ignore_rule_only_turns:
        if not carry[1]:
            carry[0] = domain._get_prev_action_sub_state(tr)
        if not tr.followup_action and not tr.latest_action_name == tr.active_loop_name:
            carry[1] = hide_rule_turn
        if carry[1]:
            return
    state = domain.get_active_state(tr, omit_unset_slots=omit_unset_slots)
    if ignore_rule_only_turns:
        domain._remove_rule_only_features(state, rule_only_data)
        if states:
            domain._substitute_rule_only_user_input(state, states[-1])
        if carry[0]:
            state[core_constants.PREVIOUS_ACTION] = carry[0]
    states.append(domain._clean_state(state))


def _frozen(data: dict[str, Any] | None) -> Any:
    if not data:
        return None
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else repr(v))
                        for k, v in data.items()))


def _copy_state(tracker: DialogueStateTracker) -> DialogueStateTracker:
    """An independent tracker in the same state, without replaying its events: its own
    event list, slots and loop state, sharing the (never modified) event objects."""
    other = copy.copy(tracker)
    other.events = tracker._create_events(list(tracker.events))
    slots = type(tracker.slots)()
    slots.update({name: copy.copy(slot) for name, slot in tracker.slots.items()})
    other.slots = slots
    if tracker.active_loop is not None:
        other.active_loop = dataclasses.replace(
            tracker.active_loop, trigger_message=copy.copy(tracker.active_loop.trigger_message))
    if isinstance(tracker.latest_action, dict):
        other.latest_action = dict(tracker.latest_action)
    other.__dict__.pop("_memos", None)
    other.__dict__.pop("_applied_memo", None)
    return other


def twin(tracker: DialogueStateTracker) -> IncrementalStatesTracker:
    """An independent ``IncrementalStatesTracker`` in the same state as ``tracker`` (a list
    copy, not a replay), with its own copy of what was featurised so far."""
    other = _copy_state(tracker)
    other.__class__ = IncrementalStatesTracker
    memos = tracker.__dict__.get("_memos")
    if memos:
        other.__dict__["_memos"] = {key: memo.copy() for key, memo in memos.items()}
    applied = tracker.__dict__.get("_applied_memo")
    if applied is not None:
        other.__dict__["_applied_memo"] = applied.copy()
    return other
