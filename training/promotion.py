"""The promotion gate: may a candidate be served?

A candidate is publishable when (1) it passes the NLU gate of `make test` on the evaluation
set (tests/tools/nlu_gate.py), (2) the conversation tests pass with it, and (3) compared with
the served model on the same messages it neither lowers emergency recall nor raises the share
of calm messages handed off by more than the noise margin (training/noise.py).

`make publicar` also refuses a candidate compared with another model than the one served now
(someone published or rolled back since): its comparison no longer says anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from triage.evaluation import fmt

LABELS = {
    "emergency_recall": ("emergencias leídas como emergencia", "bajan", -1),
    "calm_handed_off": ("mensajes tranquilos derivados", "suben", +1),
}


@dataclass(frozen=True)
class Verdict:
    publishable: bool
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"publicable": self.publishable, "razones": list(self.reasons)}


def worse_beyond_noise(differences: Mapping[str, Mapping[str, Any]] | None) -> list[str]:
    """Spanish lines, one per guarded figure the candidate worsens by more than the margin."""
    lines = []
    for key, (name, verb, bad_sign) in LABELS.items():
        diff = (differences or {}).get(key)
        if not diff or diff.get("servido") is None or diff.get("candidato") is None:
            continue
        delta, margin = float(diff["diferencia"]), float(diff["margen"])
        if bad_sign * delta > margin + 1e-12:
            lines.append(f"{name} {verb} de {fmt(diff['servido'])} a {fmt(diff['candidato'])} "
                         f"({delta:+.3f}), más que el ruido (±{margin:.3f})")
    return lines


def decide(gate: Sequence[str], conversations_ok: bool | None,
           differences: Mapping[str, Mapping[str, Any]] | None) -> Verdict:
    reasons = [f"no cumple una meta: {line}" for line in gate]
    if conversations_ok is False:
        reasons.append("las pruebas de conversación (tests/test_stories.yml) fallan")
    reasons += worse_beyond_noise(differences)
    return Verdict(not reasons, tuple(reasons))


def publish_refusals(candidate: Mapping[str, Any] | None, served_sha: str | None) -> list[str]:
    """Why `make publicar` must not serve this candidate (empty: it may)."""
    if candidate is None:
        return ["no hay ningún modelo candidato: corre primero «make entrenar»"]
    verdict = candidate.get("veredicto") or {}
    reasons = list(verdict.get("razones") or [])
    if not verdict.get("publicable") and not reasons:
        reasons.append("el candidato no tiene un veredicto: vuelve a correr «make entrenar»")
    compared_with = candidate.get("comparado_con")
    if served_sha not in (None, compared_with, candidate.get("sha256")):
        reasons.append("el modelo servido cambió desde que se entrenó este candidato: corre "
                       "«make entrenar» otra vez para compararlo con el que se sirve ahora")
    return reasons
