"""The operator's list of services (Centros de la Mujer and others), read from a CSV file.

Format: see data/servicios/LEEME.md. Bad rows are skipped with a clear log line (row number
and reason, never a crash); ``python -m actions.services_catalog [ruta.csv]`` checks a file.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from components.chile_geo import load_geo
from components.text import normalize

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVICES_PATH = PROJECT_ROOT / "data" / "servicios" / "servicios.csv"
REQUIRED_COLUMNS = ("nombre", "tipo", "comuna", "region", "direccion", "telefono", "horario")
OPTIONAL_COLUMNS = ("latitud", "longitud")


@dataclass(frozen=True)
class Service:
    nombre: str
    tipo: str
    comuna: str
    region: str
    direccion: str
    telefono: str
    horario: str
    latitud: float | None = None
    longitud: float | None = None

    def as_text(self) -> str:
        """A few short lines for a phone screen; empty fields are left out."""
        lines = [f"• {self.nombre} ({self.tipo})"]
        details = [part for part in (self.direccion, self.telefono, self.horario) if part]
        if details:
            lines.append("  " + " · ".join(details))
        return "\n".join(lines)


@dataclass(frozen=True)
class Catalog:
    services: tuple[Service, ...]
    problems: tuple[str, ...] = ()

    def in_comuna(self, comuna: str, limit: int = 3) -> list[Service]:
        key = normalize(comuna)
        return [s for s in self.services if normalize(s.comuna) == key][:limit]

    def nearest(self, latitude: float, longitude: float, limit: int = 3) -> list[Service]:
        located = [s for s in self.services if s.latitud is not None and s.longitud is not None]
        located.sort(key=lambda s: _distance_km(latitude, longitude, s.latitud, s.longitud))
        return located[:limit]


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    rlat1, rlat2 = math.radians(lat1), math.radians(lat2)
    dlat, dlon = rlat2 - rlat1, math.radians(lon2 - lon1)
    a = math.sin(dlat / 2) ** 2 + math.cos(rlat1) * math.cos(rlat2) * math.sin(dlon / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def _coordinate(raw: str, low: float, high: float) -> float | None:
    raw = (raw or "").strip().replace(",", ".")
    if not raw:
        return None
    value = float(raw)  # ValueError is reported by the caller
    if not low <= value <= high:
        raise ValueError(f"fuera de rango ({low} a {high})")
    return value


def parse_services(path: Path) -> Catalog:
    """Read the CSV; every problem becomes a readable line in ``Catalog.problems``."""
    geo = load_geo()
    services: list[Service] = []
    problems: list[str] = []
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            return Catalog((), (f"{path}: faltan columnas: {', '.join(missing)}",))
        for line, row in enumerate(reader, start=2):
            values = {k: (row.get(k) or "").strip() for k in REQUIRED_COLUMNS + OPTIONAL_COLUMNS}
            empty = [k for k in ("nombre", "tipo", "comuna") if not values[k]]
            if empty:
                problems.append(f"fila {line}: falta {', '.join(empty)}")
                continue
            comuna = next((m.place for m in geo.find(values["comuna"])), None)
            if comuna is None or comuna.entity != "comuna":
                problems.append(f"fila {line}: comuna desconocida '{values['comuna']}'")
                continue
            try:
                lat = _coordinate(values["latitud"], -90, 90)
                lon = _coordinate(values["longitud"], -180, 180)
            except ValueError as error:
                problems.append(f"fila {line}: coordenadas no válidas ({error})")
                continue
            services.append(
                Service(
                    nombre=values["nombre"],
                    tipo=values["tipo"],
                    comuna=comuna.name,
                    region=values["region"] or comuna.region,
                    direccion=values["direccion"],
                    telefono=values["telefono"],
                    horario=values["horario"],
                    latitud=lat if lon is not None else None,
                    longitud=lon if lat is not None else None,
                )
            )
    return Catalog(tuple(services), tuple(problems))


def services_path() -> Path:
    return Path(os.environ.get("SERVICIOS_PATH") or DEFAULT_SERVICES_PATH)


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime: float) -> Catalog:
    catalog = parse_services(Path(path))
    for problem in catalog.problems:
        logger.warning("servicios: %s", problem)
    return catalog


def load_catalog(path: str | Path | None = None) -> Catalog:
    """The catalog, re-read when the file changes; a missing file is an empty catalog."""
    resolved = Path(path) if path else services_path()
    if not resolved.exists():
        logger.warning("servicios: no existe %s; se responderá con el 1455", resolved)
        return Catalog(())
    return _load_cached(str(resolved), resolved.stat().st_mtime)


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else services_path()
    if not path.exists():
        print(f"No existe {path}")
        return 1
    catalog = parse_services(path)
    print(f"{len(catalog.services)} servicios válidos en {path}")
    for problem in catalog.problems:
        print(f"  ✗ {problem}")
    return 1 if catalog.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
