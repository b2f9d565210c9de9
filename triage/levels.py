"""The intent → level mapping and the rule that low confidence never lowers the level."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TRIAGE_PATH = PROJECT_ROOT / "data" / "triage.yml"

# Most dangerous first. The index is the severity rank (lower = more severe).
LEVELS: tuple[str, ...] = ("emergency", "risk", "info", "other")
FALLBACK_INTENT = "nlu_fallback"


def severity(level: str) -> int:
    """0 for emergency … 3 for other; unknown levels count as 'other'."""
    return LEVELS.index(level) if level in LEVELS else len(LEVELS) - 1


@dataclass(frozen=True)
class IntentRule:
    level: str
    handoff: bool


@dataclass(frozen=True)
class Assessment:
    """The triage reading of one message."""

    intent: str | None
    confidence: float
    level: str
    handoff: bool
    promoted_from: str | None = None  # the top intent, when a more dangerous candidate won

    def as_dict(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "confidence": round(self.confidence, 4),
            "level": self.level,
            "handoff": self.handoff,
            "promoted_from": self.promoted_from,
        }


@dataclass(frozen=True)
class TriageMap:
    rules: Mapping[str, IntentRule]
    floors: Mapping[str, float] = field(default_factory=dict)

    def rule_for(self, intent: str | None) -> IntentRule:
        """Unknown intents are 'other' without handoff (the NLU cannot produce them)."""
        return self.rules.get(intent or "", IntentRule("other", False))

    def intents_at(self, level: str) -> list[str]:
        return [name for name, rule in self.rules.items() if rule.level == level]

    def assess(
        self,
        intent: str | None,
        confidence: float,
        ranking: Iterable[Mapping[str, Any]] = (),
    ) -> Assessment:
        """Level of a message, taking the most dangerous candidate above its floor.

        ``ranking`` is Rasa's ``intent_ranking`` (name, confidence). If an emergency or risk
        intent ranks above its floor and is more severe than the top intent, it wins.
        """
        top_rule = self.rule_for(intent)
        best = Assessment(intent, confidence, top_rule.level, top_rule.handoff)
        for candidate in ranking:
            name = candidate.get("name")
            score = float(candidate.get("confidence") or 0.0)
            if not name or name == intent or name == FALLBACK_INTENT:
                continue
            rule = self.rule_for(name)
            floor = self.floors.get(rule.level)
            if floor is None or score < floor:
                continue
            if severity(rule.level) < severity(best.level):
                best = Assessment(name, score, rule.level, rule.handoff, promoted_from=intent)
        return best


    def reading_of(self, parse_data: Mapping[str, Any] | None) -> Assessment:
        """The triage reading of a parsed user message (Rasa parse data / tracker event).

        The NLU's own reading (``parse_data["triage"]``) when present; otherwise (button
        payloads, models without the TriageLevel component) the same rule applied here.
        """
        parse_data = parse_data or {}
        triage = parse_data.get("triage")
        if isinstance(triage, Mapping) and triage.get("level") in LEVELS:
            return Assessment(
                triage.get("intent"),
                float(triage.get("confidence") or 0.0),
                str(triage["level"]),
                bool(triage.get("handoff")),
                triage.get("promoted_from"),
            )
        intent = parse_data.get("intent") or {}
        return self.assess(
            intent.get("name"),
            float(intent.get("confidence") or 0.0),
            parse_data.get("intent_ranking") or [],
        )

    def level_of(self, parse_data: Mapping[str, Any] | None) -> str:
        return self.reading_of(parse_data).level


def _parse(raw: Mapping[str, Any], source: str) -> TriageMap:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("intenciones"), Mapping):
        raise ValueError(f"{source}: falta la sección 'intenciones'")
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
    floors: dict[str, float] = {}
    for level, value in (raw.get("umbrales") or {}).items():
        if level not in ("emergency", "risk"):
            raise ValueError(f"{source}: umbral para nivel desconocido '{level}'")
        value = float(value)
        if not 0.0 < value <= 1.0:
            raise ValueError(f"{source}: el umbral de '{level}' debe estar entre 0 y 1")
        floors[level] = value
    return TriageMap(rules=rules, floors=floors)


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
