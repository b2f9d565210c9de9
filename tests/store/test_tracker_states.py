"""The incremental featurisation gives exactly Rasa's ``past_states``, after every event,
for random conversations with forms, reverted turns, restarts and new sessions."""

from __future__ import annotations

import random

import pytest
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from store.tracker_states import IncrementalStatesTracker, twin

FLAGS = [
    {},
    {"omit_unset_slots": True},
    {"ignore_rule_only_turns": True,
     "rule_only_data": {"slots": ["riesgo_2"], "active_loops": ["formulario_riesgo"]}},
]
INTENTS = ["saludar", "afirmar", "negar", "informar_ubicacion", "violencia_sexual", "info_denuncia"]
ACTIONS = ["utter_saludo", "utter_info_denuncia", "utter_ask_riesgo_1", "action_handoff",
           "formulario_riesgo"]


def random_event(rng: random.Random, rewrites: bool):
    roll = rng.random()
    if roll < 0.25:
        intent = rng.choice(INTENTS)
        entities = [{"entity": "comuna", "value": "Maipú"}] if intent == "informar_ubicacion" else []
        return [ActionExecuted("action_listen"),
                UserUttered("x", {"name": intent, "confidence": 1.0}, entities)]
    if roll < 0.55:
        action = rng.choice(ACTIONS)
        return [ActionExecuted(action, hide_rule_turn=rng.random() < 0.3),
                BotUttered("y")]
    if roll < 0.65:
        return [ActiveLoop(rng.choice(["formulario_riesgo", None]))]
    if roll < 0.8:
        return [SlotSet(rng.choice(["comuna", "riesgo_1", "riesgo_2"]),
                        rng.choice([True, False, "Maipú", None]))]
    if not rewrites:
        return [ActionExecuted(rng.choice(ACTIONS[:3]))]
    return [rng.choice([UserUtteranceReverted(), ActionReverted(), Restarted(),
                        SessionStarted()])]


def rasa_states(events, domain, flags):
    plain = DialogueStateTracker.from_events("56911112222", list(events), domain.slots)
    return DialogueStateTracker.past_states(plain, domain, **flags)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("rewrites", [False, True])
def test_incremental_states_equal_rasa_states_after_every_event(domain, seed, rewrites):
    rng = random.Random(seed)
    tracker = IncrementalStatesTracker("56911112222", domain.slots)
    for _ in range(60):
        for event in random_event(rng, rewrites):
            tracker.update(event)
        for flags in FLAGS:
            assert tracker.past_states(domain, **flags) == rasa_states(tracker.events, domain, flags)


def counted(monkeypatch, owner: type, name: str) -> list[int]:
    """Calls of ``owner.name`` from now on (it still does its work)."""
    calls: list[int] = []
    original = getattr(owner, name)
    monkeypatch.setattr(owner, name, lambda self, *a: calls.append(1) or original(self, *a))
    return calls


def grow_without_rewrites(tracker, seed: int, after_each) -> None:
    """80 random steps that only append (a loop name seen for the first time would restart
    the featurisation once: left out), calling ``after_each()`` after every step."""
    rng = random.Random(seed)
    for _ in range(80):
        for event in random_event(rng, rewrites=False):
            if not isinstance(event, ActiveLoop):
                tracker.update(event)
        after_each()


def test_appended_events_are_featurised_without_starting_again(domain, monkeypatch):
    tracker = IncrementalStatesTracker("56911112222", domain.slots)
    fresh = counted(monkeypatch, IncrementalStatesTracker, "_fresh_memo")
    grow_without_rewrites(tracker, 11, lambda: tracker.past_states(domain))
    assert len(fresh) == 1


def test_a_twin_is_independent_and_keeps_the_featurised_history(domain):
    tracker = IncrementalStatesTracker("56911112222", domain.slots)
    for event in [ActionExecuted("action_listen"),
                  UserUttered("x", {"name": "saludar", "confidence": 1.0}),
                  ActionExecuted("formulario_riesgo"), ActiveLoop("formulario_riesgo"),
                  SlotSet("riesgo_1", True)]:
        tracker.update(event)
    before = tracker.past_states(domain)
    other = twin(tracker)
    other.update(ActionExecuted("utter_saludo"))
    other.update(SlotSet("riesgo_1", False))
    other.update(ActiveLoop(None))
    assert tracker.past_states(domain) == before
    assert tracker.get_slot("riesgo_1") is True and tracker.active_loop_name == "formulario_riesgo"
    assert other.past_states(domain) == rasa_states(other.events, domain, {})
    assert other.get_slot("riesgo_1") is False and other.active_loop_name is None


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("rewrites", [False, True])
def test_applied_events_equal_rasas_after_every_event(domain, seed, rewrites):
    rng = random.Random(100 + seed)
    tracker = IncrementalStatesTracker("56911112222", domain.slots)
    for _ in range(80):
        for event in random_event(rng, rewrites):
            tracker.update(event)
        expected = DialogueStateTracker.applied_events(tracker)
        got = tracker.applied_events()
        assert got == expected and [id(e) for e in got] == [id(e) for e in expected]
        got.append("a caller's own change")  # callers get their own list
        assert tracker.applied_events() == expected


def test_applied_events_continue_from_the_last_call(domain, monkeypatch):
    tracker = IncrementalStatesTracker("56911112222", domain.slots)
    full = counted(monkeypatch, DialogueStateTracker, "applied_events")
    grow_without_rewrites(tracker, 7, tracker.applied_events)
    assert len(full) == 1


def test_a_twins_applied_events_are_its_own(domain):
    tracker = IncrementalStatesTracker("56911112222", domain.slots)
    for event in [ActionExecuted("action_listen"),
                  UserUttered("x", {"name": "saludar", "confidence": 1.0})]:
        tracker.update(event)
    before = tracker.applied_events()
    other = twin(tracker)
    other.update(ActionExecuted("utter_saludo"))
    assert tracker.applied_events() == before
    assert other.applied_events() == DialogueStateTracker.applied_events(other)
    assert len(other.applied_events()) == len(before) + 1
