"""The candidate next to the served model, on the same messages, read as the service reads.

Both models read the evaluation set (tests/nlu/evaluacion/: the figures) and the validation
set (tests/nlu/validacion/: only to list the messages whose reading changed). The figures,
the gate and the TF-IDF baseline are those of `make test` (triage/evaluation.py,
tests/tools/nlu_gate.py, bench/nlu_compare.py); the noise margins come from training/noise.py.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.nlu_compare import (
    EVALUATION,
    SHIPPED,
    TFIDF,
    VALIDATION,
    baseline_rows,
    model_parses,
    shipped_readings,
)
from tests.tools.nlu_gate import gate_failures
from training.noise import paired_difference
from training.registry import file_sha256
from triage.evaluation import Scored, figures, score
from triage.labelled import Labelled, read_tree
from triage.levels import Assessment, TriageMap, load_triage_map

# the figures a candidate must not worsen beyond noise: key → (members, hit, higher is better)
GUARDED = ("emergency_recall", "calm_handed_off")


@dataclass(frozen=True)
class Sets:
    evaluation: list[Labelled]
    validation: list[Labelled]

    @property
    def all(self) -> list[Labelled]:
        return self.evaluation + self.validation

    @classmethod
    def load(cls, triage_map: TriageMap) -> Sets:
        return cls(read_tree(EVALUATION, triage_map), read_tree(VALIDATION, triage_map))


def readings(model: Path, messages: Sequence[Labelled], triage_map: TriageMap) -> list[Assessment]:
    parses = asyncio.run(model_parses(model, messages))
    return shipped_readings(parses, triage_map)


def guarded_differences(served: Sequence[Scored], candidate: Sequence[Scored]
                        ) -> dict[str, dict[str, float | None]]:
    emergency = [r.gold.level == "emergency" for r in served]
    calm = [not r.gold.handoff for r in served]
    return {
        "emergency_recall": paired_difference(
            emergency, [r.read.level == "emergency" for r in served],
            [r.read.level == "emergency" for r in candidate]).as_dict(),
        "calm_handed_off": paired_difference(
            calm, [r.read.handoff for r in served], [r.read.handoff for r in candidate]).as_dict(),
    }


def _summary(reading: Assessment) -> dict[str, Any]:
    return {"nivel": reading.level, "tipo": reading.kind, "deriva": reading.handoff,
            "inmediatez": reading.immediacy, "pide_persona": reading.wants_person}


def _direction(gold: Assessment, kind: str, before: Assessment, after: Assessment) -> str:
    """«mejor» / «peor» by level and handoff first (what keeps her safe), then by kind."""
    def right(reading: Assessment) -> tuple[bool, bool]:
        return ((reading.level, reading.handoff) == (gold.level, gold.handoff),
                reading.kind == kind)

    was, now = right(before), right(after)
    for index in (0, 1):
        if now[index] != was[index]:
            return "mejor" if now[index] else "peor"
    return "igual"


def changed_readings(sets: Sets, served: Sequence[Assessment], candidate: Sequence[Assessment],
                     triage_map: TriageMap) -> list[dict[str, Any]]:
    """Messages whose level, handoff or kind changed, with whether the change is right."""
    from triage.labelled import gold_reading

    changed = []
    n_eval = len(sets.evaluation)
    for i, (message, before, after) in enumerate(zip(sets.all, served, candidate, strict=True)):
        if (before.level, before.handoff, before.kind) == (after.level, after.handoff, after.kind):
            continue
        gold = gold_reading(message, triage_map)
        changed.append({
            "conjunto": "evaluacion" if i < n_eval else "validacion",
            "autora": message.source, "texto": message.text,
            "real": {"nivel": gold.level, "tipo": message.kind, "deriva": gold.handoff},
            "antes": _summary(before), "ahora": _summary(after),
            "cambio": _direction(gold, message.kind, before, after),
        })
    return changed


def compare(candidate: Path, served: Path | None) -> dict[str, Any]:
    """Every figure `make entrenar` prints, stores and decides on."""
    triage_map = load_triage_map()
    sets = Sets.load(triage_map)
    n_eval = len(sets.evaluation)
    print(f"Leyendo {len(sets.all)} mensajes con el candidato…", file=sys.stderr)
    candidate_reads = readings(candidate, sets.all, triage_map)
    served_sha = file_sha256(served) if served and served.exists() else None
    if served_sha is None:
        served_reads = None
    elif served_sha == file_sha256(candidate):
        served_reads = candidate_reads  # the same model: read once
    else:
        print("Leyendo los mismos mensajes con el modelo servido…", file=sys.stderr)
        served_reads = readings(served, sets.all, triage_map)
    candidate_rows = score(sets.evaluation, candidate_reads[:n_eval], triage_map)
    baseline = figures(baseline_rows(triage_map, sets.evaluation)[TFIDF])
    candidate_figures = figures(candidate_rows)
    report: dict[str, Any] = {
        "mensajes": {"evaluacion": n_eval, "validacion": len(sets.validation)},
        "candidato": candidate_figures,
        "candidato_validacion": figures(score(sets.validation, candidate_reads[n_eval:],
                                              triage_map)),
        "tfidf": baseline,
        "metas": gate_failures({SHIPPED: candidate_figures, TFIDF: baseline}),
        "servido_sha256": served_sha,
        "servido": None, "servido_validacion": None, "diferencias": None, "cambios": [],
    }
    if served_reads is not None:
        served_rows = score(sets.evaluation, served_reads[:n_eval], triage_map)
        report.update({
            "servido": figures(served_rows),
            "servido_validacion": figures(score(sets.validation, served_reads[n_eval:],
                                                triage_map)),
            "diferencias": guarded_differences(served_rows, candidate_rows),
            "cambios": changed_readings(sets, served_reads, candidate_reads, triage_map),
        })
    return report
