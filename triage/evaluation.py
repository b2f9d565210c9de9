"""Figures of a triage reader on labelled messages: the five that decide whether she is safe.

- emergency recall: danger-now messages read as emergency;
- danger handed off: emergency and risk messages handed to a person;
- calm handed off: messages that need no person but were handed off (false alarms);
- asks for a person, handed off: messages where she asks for a person, handed off;
- macro F1 over the four levels.

Plus precision/recall/F1 per level, macro F1 over kinds, a level confusion table and the same
figures per source file (author). The gate (tests/tools/nlu_gate.py), the comparison
(bench/nlu_compare.py) and the floors search (bench/triage_floors.py) all use this module.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from triage.labelled import Labelled, gold_reading
from triage.levels import DANGER_LEVELS, LEVELS, Assessment, TriageMap


@dataclass(frozen=True)
class Scored:
    """One message: its gold reading and the reading under test."""

    message: Labelled
    gold: Assessment
    read: Assessment


def score(messages: Sequence[Labelled], readings: Sequence[Assessment],
          triage_map: TriageMap) -> list[Scored]:
    if len(messages) != len(readings):
        raise ValueError("one reading per message")
    return [Scored(m, gold_reading(m, triage_map), r) for m, r in zip(messages, readings, strict=True)]


def _rate(rows: Sequence[Scored], numerator) -> float | None:
    return sum(1 for row in rows if numerator(row)) / len(rows) if rows else None


def _prf(rows: Sequence[Scored], gold_of, read_of, label: str) -> dict[str, float]:
    tp = sum(1 for r in rows if gold_of(r) == label and read_of(r) == label)
    fp = sum(1 for r in rows if gold_of(r) != label and read_of(r) == label)
    fn = sum(1 for r in rows if gold_of(r) == label and read_of(r) != label)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}


def figures(rows: Sequence[Scored], with_kinds: bool = True) -> dict[str, Any]:
    """All figures for ``rows`` (None where a figure has no messages to count).

    ``with_kinds=False`` skips the per-kind F1 (the floors search calls this thousands of times).
    """
    per_level = {level: _prf(rows, lambda r: r.gold.level, lambda r: r.read.level, level)
                 for level in LEVELS}
    kinds = sorted({r.message.kind for r in rows}) if with_kinds else []
    kind_f1 = [_prf(rows, lambda r: r.message.kind, lambda r: r.read.kind, k)["f1"] for k in kinds]
    danger = [r for r in rows if r.gold.level in DANGER_LEVELS]
    calm = [r for r in rows if not r.gold.handoff]
    person = [r for r in rows if r.message.wants_person]
    emergency = [r for r in rows if r.gold.level == "emergency"]
    return {
        "messages": len(rows),
        "emergency_recall": _rate(emergency, lambda r: r.read.level == "emergency"),
        "danger_handed_off": _rate(danger, lambda r: r.read.handoff),
        "calm_handed_off": _rate(calm, lambda r: r.read.handoff),
        "person_handed_off": _rate(person, lambda r: r.read.handoff),
        "macro_f1_levels": sum(v["f1"] for v in per_level.values()) / len(LEVELS) if rows else None,
        "macro_f1_kinds": sum(kind_f1) / len(kind_f1) if kind_f1 else None,
        "emergency_precision": per_level["emergency"]["precision"],
        "per_level": per_level,
        "counts": {"emergency": len(emergency), "danger": len(danger), "calm": len(calm),
                   "person": len(person)},
        "confusion": confusion(rows),
    }


def confusion(rows: Sequence[Scored]) -> dict[str, dict[str, int]]:
    """gold level → read level → count."""
    table: dict[str, dict[str, int]] = {g: {p: 0 for p in LEVELS} for g in LEVELS}
    for (gold, read), count in Counter((r.gold.level, r.read.level) for r in rows).items():
        table[gold][read] = count
    return table


def figures_by_source(rows: Sequence[Scored]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Scored]] = defaultdict(list)
    for row in rows:
        groups[row.message.source].append(row)
    return {source: figures(group) for source, group in sorted(groups.items())}


def misreadings(rows: Sequence[Scored]) -> list[dict[str, Any]]:
    """Messages whose level or handoff was read wrong, for results/nlu/errors.json."""
    return [
        {"text": r.message.text, "source": r.message.source, "gold_kind": r.message.kind,
         "gold_level": r.gold.level, "gold_handoff": r.gold.handoff,
         "kind": r.read.kind, "level": r.read.level, "handoff": r.read.handoff,
         "immediacy": r.read.immediacy, "wants_person": r.read.wants_person,
         "confidence": round(r.read.confidence, 3)}
        for r in rows
        if r.gold.level != r.read.level or r.gold.handoff != r.read.handoff
    ]


HEADLINE = (
    ("emergency_recall", "emergencias leídas como emergencia"),
    ("danger_handed_off", "peligro (emergencia+riesgo) derivado"),
    ("calm_handed_off", "mensajes tranquilos derivados"),
    ("person_handed_off", "pide una persona, derivado"),
    ("macro_f1_levels", "F1 macro por nivel"),
)


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"
