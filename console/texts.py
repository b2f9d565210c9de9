"""The console's Spanish texts from console/textos.yml, re-read when the file changes."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import yaml

from handoff.states import Outcome, Role, TicketStatus

logger = logging.getLogger(__name__)

DEFAULT_FILE = Path(__file__).resolve().parent / "textos.yml"
SECTIONS = ("mensajes", "prioridades", "niveles", "estados", "roles", "resultados",
            "etiquetas", "sistema", "medios", "contacto",
            "acciones_auditoria")


def problems(data: dict[str, Any]) -> list[str]:
    """What is missing in a textos.yml (the tests and the loader check it)."""
    found = []
    for section in SECTIONS:
        if not isinstance(data.get(section), dict):
            found.append(f"falta la sección {section}")
    for section, enum in (("resultados", Outcome), ("roles", Role), ("estados", TicketStatus)):
        for member in enum:
            if member.value not in (data.get(section) or {}):
                found.append(f"{section}: falta {member.value}")
    return found


class Texts:
    def __init__(self, path: Path = DEFAULT_FILE) -> None:
        self.path = path
        self._mtime: float | None = None
        self._data: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def _load(self) -> dict[str, dict[str, str]]:
        with self._lock:
            try:
                mtime = self.path.stat().st_mtime
                if mtime != self._mtime:
                    raw = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
                    for problem in problems(raw):
                        logger.error("%s: %s", self.path.name, problem)
                    self._data = {
                        section: {str(k): " ".join(str(v).split())
                                  for k, v in (raw.get(section) or {}).items()}
                        for section in SECTIONS
                    }
                    self._mtime = mtime
            except Exception:  # noqa: BLE001 - a broken file must not break the console
                logger.exception("Could not read %s; keeping the previous texts.", self.path)
            return self._data

    def section(self, name: str) -> dict[str, str]:
        return dict(self._load().get(name) or {})

    def get(self, section: str, key: Any, default: str | None = None) -> str:
        value = (self._load().get(section) or {}).get(str(getattr(key, "value", key)))
        return value if value is not None else (default if default is not None else str(key))

    def message(self, code: str | None) -> str | None:
        return self.get("mensajes", code) if code else None

    @staticmethod
    def whatsapp_error(code: int | None) -> str:
        """What Meta's error code means, from the channel's one table (errores_meta.yml)."""
        from channels.whatsapp.errors import spanish_meaning

        return spanish_meaning(code)
