"""models/: the served model, the candidates and the last published models, with their figures.

    models/asistente.tar.gz      what the stack, the tests and CI load (a copy, never a link)
    models/asistente.json        its data fingerprint and origin («make train» or published)
    models/candidatos/N.tar.gz   models trained by `make entrenar`, each with N.json (figures,
                                 fingerprint, gate, comparison, verdict); the last 5 are kept
    models/publicados/N.tar.gz   the last 5 published models, each with N.json
    models/registro.json         {"servido": N, "publicados": [newest first]}

On a fresh clone none of this exists but models/asistente.tar.gz after `make train`.
Files are replaced atomically (copied under a temporary name, then renamed), and temporary
names never end in .tar.gz (`make -s triage` picks the newest *.tar.gz in models/).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
KEEP = 5


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def copy_model(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.copiando")
    shutil.copyfile(source, temporary)
    os.replace(temporary, target)


class Models:
    def __init__(self, root: Path = MODELS) -> None:
        self.root = root
        self.served = root / "asistente.tar.gz"
        self.served_info_path = root / "asistente.json"
        self.candidates_dir = root / "candidatos"
        self.published_dir = root / "publicados"
        self.registry_path = root / "registro.json"
        # make's stamp of a model trained from the current inputs (Makefile: MODEL_STAMP)
        self.stamp = root / ".trained"

    # --- served -------------------------------------------------------------------------
    def served_info(self) -> dict[str, Any] | None:
        info = _read_json(self.served_info_path)
        return info if isinstance(info, dict) and self.served.exists() else None

    def install_served(self, source: Path, info: dict[str, Any]) -> None:
        """Make ``source`` the served model (atomic copy) and record where it came from."""
        copy_model(source, self.served)
        _write_json(self.served_info_path, {**info, "sha256": file_sha256(self.served)})

    def mark_served(self, info: dict[str, Any]) -> None:
        """Record the fingerprint of a model `rasa train` just wrote in place."""
        _write_json(self.served_info_path, {**info, "sha256": file_sha256(self.served)})

    # --- candidates ---------------------------------------------------------------------
    def candidate_model(self, name: str) -> Path:
        return self.candidates_dir / f"{name}.tar.gz"

    def candidates(self) -> list[dict[str, Any]]:
        """Candidate records, oldest first (names are timestamps)."""
        records = [_read_json(p) for p in sorted(self.candidates_dir.glob("*.json"))]
        return [r for r in records if isinstance(r, dict)
                and self.candidate_model(r.get("nombre", "")).exists()]

    def latest_candidate(self) -> dict[str, Any] | None:
        found = self.candidates()
        return found[-1] if found else None

    def save_candidate(self, record: dict[str, Any]) -> None:
        _write_json(self.candidates_dir / f"{record['nombre']}.json", record)
        self._prune(self.candidates_dir, keep={record["nombre"]})

    def _prune(self, folder: Path, keep: set[str]) -> None:
        names = sorted(p.name[:-len(".tar.gz")] for p in folder.glob("*.tar.gz"))
        for name in names[:-KEEP]:
            if name not in keep:
                (folder / f"{name}.tar.gz").unlink(missing_ok=True)
                (folder / f"{name}.json").unlink(missing_ok=True)

    # --- published ----------------------------------------------------------------------
    def registry(self) -> dict[str, Any]:
        raw = _read_json(self.registry_path)
        if not isinstance(raw, dict):
            raw = {}
        return {"servido": raw.get("servido"), "publicados": list(raw.get("publicados") or [])}

    def published_model(self, name: str) -> Path:
        return self.published_dir / f"{name}.tar.gz"

    def current_published(self) -> dict[str, Any] | None:
        registry = self.registry()
        for record in registry["publicados"]:
            if record.get("nombre") == registry["servido"]:
                return record
        return None

    def publish(self, record: dict[str, Any], model: Path) -> None:
        """Serve ``model`` as published ``record`` (newest first; keep the last five)."""
        name = record["nombre"]
        copy_model(model, self.published_model(name))
        _write_json(self.published_dir / f"{name}.json", record)
        registry = self.registry()
        published = [record] + [r for r in registry["publicados"] if r.get("nombre") != name]
        for old in published[KEEP:]:
            self.published_model(old["nombre"]).unlink(missing_ok=True)
            (self.published_dir / f"{old['nombre']}.json").unlink(missing_ok=True)
        self.install_served(self.published_model(name), {
            "origen": "publicado", "nombre": name, "huella_datos": record.get("huella_datos")})
        _write_json(self.registry_path, {"servido": name, "publicados": published[:KEEP]})

    def previous_published(self) -> dict[str, Any] | None:
        """The published model before the served one (what `make volver` serves)."""
        registry = self.registry()
        names = [r.get("nombre") for r in registry["publicados"]]
        if registry["servido"] not in names:
            return None
        index = names.index(registry["servido"])
        for record in registry["publicados"][index + 1:]:
            if self.published_model(record["nombre"]).exists():
                return record
        return None

    def serve_published(self, record: dict[str, Any]) -> None:
        name = record["nombre"]
        self.install_served(self.published_model(name), {
            "origen": "publicado", "nombre": name, "huella_datos": record.get("huella_datos")})
        registry = self.registry()
        _write_json(self.registry_path, {"servido": name, "publicados": registry["publicados"]})

    # --- reuse --------------------------------------------------------------------------
    def trained_from(self, fingerprint: str) -> Path | None:
        """A model already trained from inputs with this fingerprint, if any is kept."""
        info = self.served_info()
        if info and info.get("huella_datos") == fingerprint:
            return self.served
        for record in reversed(self.candidates()):
            if record.get("huella_datos") == fingerprint:
                return self.candidate_model(record["nombre"])
        for record in self.registry()["publicados"]:
            path = self.published_model(record.get("nombre", ""))
            if record.get("huella_datos") == fingerprint and path.exists():
                return path
        return None
