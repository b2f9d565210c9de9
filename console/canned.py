"""Canned answers from console/respuestas_rapidas.yml, re-read when the file changes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import yaml

logger = logging.getLogger(__name__)

DEFAULT_FILE = Path(__file__).resolve().parent / "respuestas_rapidas.yml"


@dataclass(frozen=True)
class Canned:
    id: str
    title: str
    text: str


class CannedAnswers:
    def __init__(self, path: Path = DEFAULT_FILE) -> None:
        self.path = path
        self._mtime: float | None = None
        self._items: list[Canned] = []

    def all(self) -> list[Canned]:
        try:
            mtime = self.path.stat().st_mtime
            if mtime != self._mtime:
                data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
                self._items = [
                    Canned(str(item["id"]), str(item.get("titulo") or item["id"]),
                           " ".join(str(item["texto"]).split()))
                    for item in data.get("respuestas") or []
                    if isinstance(item, dict) and item.get("id") and item.get("texto")
                ]
                self._mtime = mtime
        except Exception:  # noqa: BLE001 - a broken file must not break the console
            logger.exception("Could not read %s; keeping the previous answers.", self.path)
        return list(self._items)

    def get(self, canned_id: str) -> Canned | None:
        return next((c for c in self.all() if c.id == canned_id), None)
