"""Read data/triage.yml (intent -> level, thresholds) without importing Rasa."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TRIAGE_FILE = PROJECT_ROOT / "data" / "triage.yml"


@dataclass(frozen=True)
class TriageRules:
    levels: dict[str, str] = field(default_factory=dict)
    emergency_threshold: float = 1.0

    @property
    def emergency_intents(self) -> frozenset[str]:
        return frozenset(name for name, level in self.levels.items() if level == "emergency")

    def level_of(self, parse_data: dict[str, Any]) -> str | None:
        """A user message's level: the NLU triage result, else the intent's level."""
        triage = parse_data.get("triage")
        if isinstance(triage, dict) and triage.get("level"):
            return str(triage["level"]).lower()
        intent = (parse_data.get("intent") or {}).get("name")
        return self.levels.get(intent) if intent else None


def load_triage_rules(path: Path | str = DEFAULT_TRIAGE_FILE) -> TriageRules:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    levels = {
        str(name): str(spec.get("nivel", "other")).lower()
        for name, spec in (data.get("intenciones") or {}).items()
        if isinstance(spec, dict)
    }
    threshold = float((data.get("umbrales") or {}).get("emergency", 1.0))
    return TriageRules(levels=levels, emergency_threshold=threshold)
