"""Short, content-free reasons for the specialists' queue (never the woman's words)."""

from __future__ import annotations

LEVEL_LABELS = {
    "emergency": "Emergencia",
    "risk": "Relato de violencia",
    "info": "Consulta",
    "other": "Pide hablar con una persona",
}


def handoff_reason(level: str, intent: str | None) -> str:
    label = LEVEL_LABELS.get(level, LEVEL_LABELS["other"])
    if intent and level in ("emergency", "risk"):
        return f"{label}: {intent.replace('_', ' ')}"
    return label
