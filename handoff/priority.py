"""Queue priorities. Lower number = more urgent."""

from __future__ import annotations

EMERGENCY = 1
HIGH_RISK = 2
RISK = 3
PERSON = 4

LABELS: dict[int, str] = {
    EMERGENCY: "Emergencia",
    HIGH_RISK: "Riesgo alto",
    RISK: "Riesgo",
    PERSON: "Pide persona",
}


def priority_for(level: str, screening_result: str | None) -> int:
    """Priority for a triage level and an optional risk-screening result ("alto", ...)."""
    level = (level or "").strip().lower()
    if level == "emergency":
        return EMERGENCY
    if level == "risk":
        if (screening_result or "").strip().lower() == "alto":
            return HIGH_RISK
        return RISK
    return PERSON
