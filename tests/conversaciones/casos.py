"""Conversation test cases: Rasa Pro's end-to-end format plus a few WhatsApp steps.

A file holds ``test_cases:``, each ``- test_case: nombre`` with ``steps:``. The step kinds
(one key per step, Spanish where the step is ours) are listed in ``STEP_KINDS``; the README's
trainers' guide explains each. Errors in a file are reported in Spanish with file and case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Steps Rasa Pro users know, and the extensions for what WhatsApp and the helpline add.
RASA_STEPS = ("user", "bot", "utter", "slot_was_set")
WHATSAPP_STEPS = ("boton", "ubicacion", "medio", "nota_de_voz", "evento", "silencio")
HELPLINE_STEPS = ("caso", "especialista", "servidor_de_acciones", "sin_rastro")
STEP_KINDS = RASA_STEPS + WHATSAPP_STEPS + HELPLINE_STEPS
# Modifiers that may accompany a step in the same mapping.
STEP_OPTIONS = {"bot": {"botones"}, "utter": {"botones"}, "boton": set(), "user": set()}

MEDIA_KINDS = {"imagen": "image", "audio": "audio", "video": "video", "documento": "document",
               "sticker": "sticker"}
RAW_EVENTS = ("mensaje_borrado", "permiso_de_llamada", "cambio_de_identidad",
              "cambio_de_numero", "flujo_completado")
SPECIALIST_ACTIONS = ("toma_el_caso", "responde", "cierra", "cierra_con_despedida")
CASE_KEYS = {"test_case", "steps", "descripcion", "pendiente", "especialistas", "horario",
             "servidor_de_acciones"}


class CaseError(ValueError):
    """A case file that cannot be read: the message says where and why, in Spanish."""


@dataclass(frozen=True)
class Step:
    kind: str
    value: Any
    options: dict[str, Any] = field(default_factory=dict)
    number: int = 0  # 1-based position in the case, for messages

    def describe(self) -> str:
        shown = self.value if not isinstance(self.value, dict) else yaml.safe_dump(
            self.value, allow_unicode=True, default_flow_style=True).strip()
        return f"paso {self.number} ({self.kind}: {shown})"


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    steps: tuple[Step, ...]
    pending: str | None = None
    specialists_online: bool = False
    schedule: str | None = None  # contents of a horario.yml for this case's phase
    actions_down: bool = False
    description: str = ""

    @property
    def phase(self) -> tuple[int, str]:
        """Cases that need the same stack state run together (see runner.PHASES)."""
        if self.actions_down:
            return (3, "servidor de acciones apagado")
        if self.specialists_online:
            return (2, "especialistas conectadas")
        if self.schedule is not None:
            return (1, self.schedule)
        return (0, "")


def _fail(source: str, case: str | None, message: str) -> CaseError:
    where = f"{source}" + (f", caso «{case}»" if case else "")
    return CaseError(f"{where}: {message}")


def _step(raw: Any, number: int, source: str, case: str) -> Step:
    if not isinstance(raw, dict) or not raw:
        raise _fail(source, case, f"el paso {number} debe ser «- clave: valor»")
    kinds = [key for key in raw if key in STEP_KINDS]
    if len(kinds) != 1:
        raise _fail(source, case, f"el paso {number} debe tener una de: {', '.join(STEP_KINDS)}")
    kind = kinds[0]
    options = {k: v for k, v in raw.items() if k != kind}
    unknown = set(options) - STEP_OPTIONS.get(kind, set())
    if unknown:
        raise _fail(source, case, f"paso {number}: no conozco {', '.join(sorted(unknown))}")
    value = raw[kind]
    _check_value(kind, value, number, source, case)
    return Step(kind, value, options, number)


def _check_value(kind: str, value: Any, number: int, source: str, case: str) -> None:
    problem = None
    if kind in ("user", "bot", "utter", "boton", "sin_rastro") and not (isinstance(value, str) and value.strip()):
        problem = "necesita un texto"
    elif kind == "silencio" and not (isinstance(value, int | float) and 0 < value <= 60):
        problem = "silencio: escribe los segundos (1 a 60)"
    elif kind == "medio" and value not in MEDIA_KINDS:
        problem = f"medio: usa uno de {', '.join(MEDIA_KINDS)}"
    elif kind == "evento" and value not in RAW_EVENTS:
        problem = f"evento: usa uno de {', '.join(RAW_EVENTS)}"
    elif kind in ("slot_was_set", "caso") and not isinstance(value, dict | list):
        problem = f"{kind}: escribe pares «nombre: valor»"
    elif kind == "ubicacion" and not (isinstance(value, dict) and {"latitud", "longitud"} <= set(value)):
        problem = "ubicacion: escribe latitud y longitud"
    elif kind == "servidor_de_acciones" and value != "apagar":
        problem = "servidor_de_acciones: el único paso es «apagar»"
    elif kind == "especialista":
        action = next(iter(value), None) if isinstance(value, dict) else value
        if action not in SPECIALIST_ACTIONS:
            problem = f"especialista: usa una de {', '.join(SPECIALIST_ACTIONS)}"
    if problem:
        raise _fail(source, case, f"paso {number}: {problem}")


def _case(raw: Any, source: str) -> Case:
    if not isinstance(raw, dict) or not isinstance(raw.get("test_case"), str):
        raise _fail(source, None, "cada elemento de test_cases necesita «- test_case: nombre»")
    name = raw["test_case"]
    unknown = set(raw) - CASE_KEYS
    if unknown:
        raise _fail(source, name, f"no conozco: {', '.join(sorted(unknown))}")
    steps = raw.get("steps")
    if not isinstance(steps, list) or not steps:
        raise _fail(source, name, "falta «steps:» con al menos un paso")
    parsed = tuple(_step(step, i, source, name) for i, step in enumerate(steps, start=1))
    schedule = raw.get("horario")
    if schedule is not None and not isinstance(schedule, str):
        raise _fail(source, name, "horario: escribe el contenido de un horario.yml con «|»")
    return Case(
        name=name,
        source=source,
        steps=parsed,
        pending=str(raw["pendiente"]) if raw.get("pendiente") else None,
        specialists_online=raw.get("especialistas") == "conectadas",
        schedule=schedule,
        actions_down=raw.get("servidor_de_acciones") == "apagado"
        or any(step.kind == "servidor_de_acciones" for step in parsed),
        description=str(raw.get("descripcion") or ""),
    )


def load_file(path: Path) -> list[Case]:
    source = path.name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise _fail(source, None, f"YAML no válido ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("test_cases"), list):
        raise _fail(source, None, "el archivo debe empezar con «test_cases:»")
    return [_case(raw, source) for raw in data["test_cases"]]


def load_cases(paths: list[Path]) -> list[Case]:
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for path in paths:
        for case in load_file(path):
            if case.name in seen:
                raise _fail(case.source, case.name, f"nombre repetido (también en {seen[case.name]})")
            seen[case.name] = case.source
            cases.append(case)
    return cases
