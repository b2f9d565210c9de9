"""Chile's regions and comunas (data/geo/chile.yml), matched accent- and case-insensitively."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from components.text import normalize

DEFAULT_GEO_PATH = Path(__file__).resolve().parent.parent / "data" / "geo" / "chile.yml"
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Place:
    entity: str  # "comuna" or "region"
    name: str  # official name
    region: str  # the region's official name (for a region, itself)


@dataclass(frozen=True)
class GeoMatch:
    place: Place
    start: int
    end: int
    text: str


class ChileGeo:
    """Finds comunas and regions in text. Longest match wins; comunas before regions."""

    def __init__(self, places: dict[tuple[str, ...], Place]) -> None:
        self._places = places
        self._longest = max((len(key) for key in places), default=1)
        self.comunas = {p.name: p for p in places.values() if p.entity == "comuna"}
        self.regions = {p.name: p for p in places.values() if p.entity == "region"}

    @classmethod
    def from_file(cls, path: str | Path) -> ChileGeo:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle) or {}
        places: dict[tuple[str, ...], Place] = {}

        def add(alias: str, place: Place) -> None:
            key = tuple(_WORD.findall(normalize(alias)))
            if key and (key not in places or places[key].entity == "region"):
                places[key] = place

        for region in raw.get("regiones") or []:
            region_place = Place("region", region["nombre"], region["nombre"])
            for comuna in region.get("comunas") or []:
                place = Place("comuna", comuna["nombre"], region["nombre"])
                for alias in [comuna["nombre"], *(comuna.get("alias") or [])]:
                    add(str(alias), place)
            for alias in [region["nombre"], *(region.get("alias") or [])]:
                add(str(alias), region_place)
        return cls(places)

    def find(self, text: str) -> Iterator[GeoMatch]:
        """Yield places in ``text`` (character offsets refer to ``text`` itself)."""
        tokens = [(m.start(), m.end()) for m in _WORD.finditer(text)]
        normalized = [normalize(text[start:end]) for start, end in tokens]
        i = 0
        while i < len(tokens):
            for size in range(min(self._longest, len(tokens) - i), 0, -1):
                place = self._places.get(tuple(normalized[i : i + size]))
                if place:
                    start, end = tokens[i][0], tokens[i + size - 1][1]
                    yield GeoMatch(place, start, end, text[start:end])
                    i += size
                    break
            else:
                i += 1


def geo_path() -> Path:
    return Path(os.environ.get("GEO_PATH") or DEFAULT_GEO_PATH)


@lru_cache(maxsize=2)
def load_geo(path: str | None = None) -> ChileGeo:
    return ChileGeo.from_file(path or geo_path())
