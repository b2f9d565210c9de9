"""The triage reading of a message: its kind, its immediacy, whether she asks for a person.

Every intent maps to a level and a handoff flag (data/triage.yml). Three signals come from
the NLU: the kind (the intent ranking), the immediacy (is someone in danger now?) and whether
she asks for a person. One rule turns them into the level the whole service uses:

- danger now makes the level ``emergency``, whatever the kind;
- otherwise the most dangerous candidate kind above its floor wins (low confidence never
  lowers the level);
- she is handed off when the level is emergency or risk, when she asks for a person, or when
  the kind's entry says ``derivar: true``.

The dialogue follows one intent per message: the kind itself, or ``emergencia_ahora`` /
``emergencia_tercero`` when the danger is now, or ``pedir_persona`` when she asks for a person.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TRIAGE_PATH = PROJECT_ROOT / "data" / "triage.yml"

# Most dangerous first. The index is the severity rank (lower = more severe).
LEVELS: tuple[str, ...] = ("emergency", "risk", "info", "other")
DANGER_LEVELS: frozenset[str] = frozenset({"emergency", "risk"})
FALLBACK_INTENT = "nlu_fallback"
PERSON_INTENT = "pedir_persona"
EMERGENCY_NOW_INTENT = "emergencia_ahora"
EMERGENCY_THIRD_PARTY_INTENT = "emergencia_tercero"
THIRD_PARTY_KIND = "violencia_tercero"
# Answers inside a form keep their intent even when she also asks for a person:
# «sí, que me escriba una persona» answers the question it was asked.
FORM_ANSWER_INTENTS: frozenset[str] = frozenset({"afirmar", "negar", "omitir", "detener", "salir"})

# data/triage.yml `umbrales` keys: the two candidate floors (by level) and the signal floors.
LEVEL_FLOOR_KEYS = ("emergency", "risk")
SIGNAL_FLOOR_KEYS = ("ahora", "ahora_sin_violencia", "pide_persona")


class Immediacy(str, Enum):
    """When the danger is: now or imminent / ongoing or past / no violence told."""

    NOW = "ahora"
    PAST = "pasado"
    NONE = "ninguna"


def severity(level: str) -> int:
    """0 for emergency … 3 for other; unknown levels count as 'other'."""
    return LEVELS.index(level) if level in LEVELS else len(LEVELS) - 1


@dataclass(frozen=True)
class IntentRule:
    level: str
    handoff: bool


@dataclass(frozen=True)
class Signals:
    """What the NLU read besides the intent ranking (all optional: payloads have none).

    ``now`` and ``person`` are probabilities from the immediacy and person heads; ``rule`` is
    the name of a deterministic safety-net rule that fired, with the kind it implies
    (``rule_kind``) or the kind it rules out (``veto``).
    """

    now: float | None = None
    person: float | None = None
    rule: str | None = None
    rule_kind: str | None = None
    veto: str | None = None

    @classmethod
    def from_parse_data(cls, parse_data: Mapping[str, Any]) -> Signals:
        raw = parse_data.get("signals")
        if not isinstance(raw, Mapping):
            return cls()
        return cls(
            now=_probability(raw.get("now")),
            person=_probability(raw.get("person")),
            rule=raw.get("rule") if isinstance(raw.get("rule"), str) else None,
            rule_kind=raw.get("rule_kind") if isinstance(raw.get("rule_kind"), str) else None,
            veto=raw.get("veto") if isinstance(raw.get("veto"), str) else None,
        )

    def as_dict(self) -> dict[str, Any]:
        return {"now": self.now, "person": self.person, "rule": self.rule,
                "rule_kind": self.rule_kind, "veto": self.veto}


def _probability(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if 0.0 <= number <= 1.0 else None


@dataclass(frozen=True)
class Assessment:
    """The triage reading of one message.

    ``intent`` is what the dialogue follows; ``kind`` is the kind of message read (the type
    of violence, the question…); ``promoted_from`` is the top intent when a more dangerous
    candidate won.
    """

    intent: str | None
    confidence: float
    level: str
    handoff: bool
    promoted_from: str | None = None
    kind: str | None = None
    immediacy: str = Immediacy.NONE.value
    wants_person: bool = False
    rule: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "confidence": round(self.confidence, 4),
            "level": self.level,
            "handoff": self.handoff,
            "promoted_from": self.promoted_from,
            "kind": self.kind if self.kind is not None else self.intent,
            "immediacy": self.immediacy,
            "wants_person": self.wants_person,
            "rule": self.rule,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Assessment:
        immediacy = raw.get("immediacy")
        return cls(
            intent=raw.get("intent"),
            confidence=float(raw.get("confidence") or 0.0),
            level=str(raw["level"]),
            handoff=bool(raw.get("handoff")),
            promoted_from=raw.get("promoted_from"),
            kind=raw.get("kind") or raw.get("intent"),
            immediacy=immediacy if immediacy in {i.value for i in Immediacy} else
            _default_immediacy(str(raw["level"])).value,
            wants_person=bool(raw.get("wants_person")),
            rule=raw.get("rule"),
        )


def _default_immediacy(level: str) -> Immediacy:
    """Without an immediacy reading: emergency kinds are now, violence is past, else none."""
    if level == "emergency":
        return Immediacy.NOW
    if level == "risk":
        return Immediacy.PAST
    return Immediacy.NONE


@dataclass(frozen=True)
class TriageMap:
    rules: Mapping[str, IntentRule]
    floors: Mapping[str, float] = field(default_factory=dict)

    def rule_for(self, intent: str | None) -> IntentRule:
        """Unknown intents are 'other' without handoff (the NLU cannot produce them)."""
        return self.rules.get(intent or "", IntentRule("other", False))

    def intents_at(self, level: str) -> list[str]:
        return [name for name, rule in self.rules.items() if rule.level == level]

    def _kind(
        self, intent: str | None, confidence: float, ranking: Iterable[Mapping[str, Any]]
    ) -> tuple[str | None, float, str | None]:
        """The most dangerous candidate above its level's floor: (kind, confidence, promoted_from)."""
        kind, score, promoted_from = intent, confidence, None
        best_level = self.rule_for(intent).level
        for candidate in ranking:
            name = candidate.get("name")
            value = float(candidate.get("confidence") or 0.0)
            if not name or name == intent or name == FALLBACK_INTENT:
                continue
            level = self.rule_for(name).level
            floor = self.floors.get(level)
            if floor is None or value < floor:
                continue
            if severity(level) < severity(best_level):
                kind, score, promoted_from, best_level = name, value, intent, level
        return kind, score, promoted_from

    def _immediacy(self, kind_level: str, signals: Signals) -> Immediacy:
        if signals.now is None:
            return _default_immediacy(kind_level)
        floor_key = "ahora" if kind_level in DANGER_LEVELS else "ahora_sin_violencia"
        if signals.now >= self.floors.get(floor_key, 0.5):
            return Immediacy.NOW
        if kind_level == "emergency":
            return Immediacy.NOW  # the more dangerous reading wins
        return Immediacy.PAST if kind_level == "risk" else Immediacy.NONE

    def assess(
        self,
        intent: str | None,
        confidence: float,
        ranking: Iterable[Mapping[str, Any]] = (),
        signals: Signals | None = None,
    ) -> Assessment:
        """The reading of a message from Rasa's intent and ``intent_ranking`` plus signals."""
        signals = signals or Signals()
        if signals.veto:
            intent, confidence, ranking = _without(signals.veto, intent, confidence, ranking)
        kind, score, promoted_from = self._kind(intent, confidence, ranking)
        if signals.rule_kind and signals.rule_kind in self.rules:
            if severity(self.rule_for(signals.rule_kind).level) <= severity(
                    self.rule_for(kind).level):
                kind, score, promoted_from = signals.rule_kind, 1.0, intent
        kind_rule = self.rule_for(kind)
        immediacy = self._immediacy(kind_rule.level, signals)
        level = "emergency" if immediacy is Immediacy.NOW else kind_rule.level
        wants_person = kind == PERSON_INTENT or (
            signals.person is not None and signals.person >= self.floors.get("pide_persona", 0.5)
        )
        handoff = kind_rule.handoff or level in DANGER_LEVELS or wants_person
        dialogue = _dialogue_intent(kind, kind_rule.level, level, wants_person)
        return Assessment(
            intent=dialogue,
            confidence=score,
            level=level,
            handoff=handoff,
            promoted_from=promoted_from,
            kind=kind,
            immediacy=immediacy.value,
            wants_person=wants_person,
            rule=signals.rule,
        )

    def reading_of(self, parse_data: Mapping[str, Any] | None) -> Assessment:
        """The triage reading of a parsed user message (Rasa parse data / tracker event).

        The NLU's own reading (``parse_data["triage"]``) when present; otherwise (button
        payloads, models without the TriageLevel component) the same rule applied here.
        """
        parse_data = parse_data or {}
        triage = parse_data.get("triage")
        if isinstance(triage, Mapping) and triage.get("level") in LEVELS:
            return Assessment.from_dict(triage)
        intent = parse_data.get("intent") or {}
        return self.assess(
            intent.get("name"),
            float(intent.get("confidence") or 0.0),
            parse_data.get("intent_ranking") or [],
            Signals.from_parse_data(parse_data),
        )

    def level_of(self, parse_data: Mapping[str, Any] | None) -> str:
        return self.reading_of(parse_data).level


def _without(
    vetoed: str, intent: str | None, confidence: float, ranking: Iterable[Mapping[str, Any]]
) -> tuple[str | None, float, list[Mapping[str, Any]]]:
    """The ranking without a kind the safety net ruled out (the next candidate moves up)."""
    kept = [c for c in ranking if c.get("name") != vetoed]
    if intent != vetoed:
        return intent, confidence, kept
    top = next((c for c in kept if c.get("name") != FALLBACK_INTENT), None)
    if top is None:
        return FALLBACK_INTENT, 0.0, kept
    return top.get("name"), float(top.get("confidence") or 0.0), kept


def _dialogue_intent(kind: str | None, kind_level: str, level: str, wants_person: bool) -> str | None:
    """The intent the rules follow for this reading."""
    if level == "emergency" and kind_level != "emergency":
        return EMERGENCY_THIRD_PARTY_INTENT if kind == THIRD_PARTY_KIND else EMERGENCY_NOW_INTENT
    if wants_person and level != "emergency" and kind not in FORM_ANSWER_INTENTS:
        return PERSON_INTENT
    return kind


def _parse_rules(raw: Mapping[str, Any], source: str) -> dict[str, IntentRule]:
    rules: dict[str, IntentRule] = {}
    for name, spec in raw["intenciones"].items():
        if not isinstance(spec, Mapping):
            raise ValueError(f"{source}: la intención '{name}' no tiene nivel ni derivar")
        level = spec.get("nivel")
        if level not in LEVELS:
            raise ValueError(
                f"{source}: la intención '{name}' tiene nivel '{level}'; "
                f"usa uno de: {', '.join(LEVELS)}"
            )
        handoff = spec.get("derivar")
        if not isinstance(handoff, bool):
            raise ValueError(f"{source}: en '{name}', derivar debe ser true o false")
        rules[str(name)] = IntentRule(level, handoff)
    return rules


def _parse_floors(raw: Mapping[str, Any], source: str) -> dict[str, float]:
    floors: dict[str, float] = {}
    for key, value in (raw.get("umbrales") or {}).items():
        if key not in LEVEL_FLOOR_KEYS + SIGNAL_FLOOR_KEYS:
            raise ValueError(
                f"{source}: umbral desconocido '{key}'; usa uno de: "
                f"{', '.join(LEVEL_FLOOR_KEYS + SIGNAL_FLOOR_KEYS)}"
            )
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{source}: el umbral de '{key}' debe ser un número") from None
        if not 0.0 < value <= 1.0:
            raise ValueError(f"{source}: el umbral de '{key}' debe estar entre 0 y 1")
        floors[str(key)] = value
    return floors


def _parse(raw: Mapping[str, Any], source: str) -> TriageMap:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("intenciones"), Mapping):
        raise ValueError(f"{source}: falta la sección 'intenciones'")
    return TriageMap(rules=_parse_rules(raw, source), floors=_parse_floors(raw, source))


def triage_path() -> Path:
    return Path(os.environ.get("TRIAGE_PATH") or DEFAULT_TRIAGE_PATH)


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime: float) -> TriageMap:
    with open(path, encoding="utf-8") as handle:
        return _parse(yaml.safe_load(handle), path)


def load_triage_map(path: str | Path | None = None) -> TriageMap:
    """Load (and cache until the file changes) the trainers' triage file."""
    resolved = Path(path) if path else triage_path()
    return _load_cached(str(resolved), resolved.stat().st_mtime)
