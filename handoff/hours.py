"""Opening hours of the specialists, from the operator's file ``data/horario.yml``.

The file is documented in Spanish inside itself and in the README. Empty file (or no ``dias``)
means 24/7. Shifts belong to the day they start: «20:00-02:00» on Friday runs into Saturday,
and a holiday cancels only the shifts that start on it. Times are wall-clock times in the
file's time zone (America/Santiago by default), so daylight-saving changes are handled by
the zone's rules, never by hand.

``python -m handoff.hours [ruta]`` checks a file and prints the week as it was understood.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOURS_PATH = PROJECT_ROOT / "data" / "horario.yml"
DEFAULT_ZONE = "America/Santiago"
DAY_NAMES = ("lunes", "martes", "miercoles", "jueves", "viernes", "sabado", "domingo")
_ACCENTED = {"miércoles": "miercoles", "sábado": "sabado"}
MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
          "septiembre", "octubre", "noviembre", "diciembre")
LOOKAHEAD_DAYS = 400  # long enough to pass a year of holidays


class HorarioError(ValueError):
    """The hours file cannot be used; the message says why, in Spanish."""


@dataclass(frozen=True)
class Shift:
    start: time
    end: time  # end <= start: the shift ends the next day

    def interval_on(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The shift starting on ``day`` as an interval in UTC."""
        start = datetime.combine(day, self.start, zone)
        end_day = day if self.end > self.start else day + timedelta(days=1)
        end = datetime.combine(end_day, self.end, zone)
        return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


@dataclass(frozen=True)
class Schedule:
    zone: ZoneInfo
    shifts: tuple[tuple[Shift, ...], ...] | None = None  # by weekday (Monday = 0); None: 24/7
    holidays: frozenset[date] = frozenset()

    @property
    def always_open(self) -> bool:
        return self.shifts is None

    def _intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        if self.shifts is None or day in self.holidays:
            return []
        return [shift.interval_on(day, self.zone) for shift in self.shifts[day.weekday()]]


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(timezone.utc)


def is_open(schedule: Schedule, now: datetime) -> bool:
    """Whether specialists are on shift at ``now`` (an aware datetime)."""
    if schedule.always_open:
        return True
    instant = _utc(now)
    today = instant.astimezone(schedule.zone).date()
    return any(start <= instant < end
               for day in (today - timedelta(days=1), today)
               for start, end in schedule._intervals(day))


def next_opening(schedule: Schedule, now: datetime) -> datetime | None:
    """When specialists are next on shift, in the schedule's zone (``now`` if open now)."""
    if is_open(schedule, now):
        return now.astimezone(schedule.zone)
    instant = _utc(now)
    today = instant.astimezone(schedule.zone).date()
    for offset in range(LOOKAHEAD_DAYS):
        starts = [start for start, _ in schedule._intervals(today + timedelta(days=offset))
                  if start > instant]
        if starts:
            return min(starts).astimezone(schedule.zone)
    return None


def describe_return(opening: datetime, now: datetime) -> str:
    """«hoy a las 09:00», «mañana a las 09:00», «el lunes a las 09:00», «el lunes 6 de enero…»."""
    local_now = now.astimezone(opening.tzinfo)
    days = (opening.date() - local_now.date()).days
    clock = opening.strftime("%H:%M")
    if days <= 0:
        return f"hoy a las {clock}"
    if days == 1:
        return f"mañana a las {clock}"
    weekday = DAY_NAMES[opening.weekday()].replace("miercoles", "miércoles").replace(
        "sabado", "sábado")
    if days < 7:
        return f"el {weekday} a las {clock}"
    return f"el {weekday} {opening.day} de {MONTHS[opening.month - 1]} a las {clock}"


# ------------------------------------------------------------------------- reading the file
def _clock(text: str, where: str) -> time:
    try:
        hours, minutes = text.strip().split(":")
        if hours.strip() == "24" and minutes.strip() == "00":
            return time(0, 0)
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        raise HorarioError(f"{where}: «{text}» no es una hora (usa HH:MM, por ejemplo 09:00)") from None


def _shifts(value: Any, where: str) -> tuple[Shift, ...]:
    spans = [value] if isinstance(value, str) else value
    if spans is None:
        return ()
    if not isinstance(spans, list) or not all(isinstance(s, str) for s in spans):
        raise HorarioError(f"{where}: escribe un tramo «09:00-18:00» o una lista de tramos")
    shifts = []
    for span in spans:
        if span.count("-") != 1:
            raise HorarioError(f"{where}: «{span}» debe ser «inicio-fin», por ejemplo 09:00-18:00")
        start, end = (_clock(part, where) for part in span.split("-"))
        if start == end:
            raise HorarioError(f"{where}: «{span}» empieza y termina a la misma hora")
        shifts.append(Shift(start, end))
    return tuple(shifts)


def _days(raw: Any) -> tuple[tuple[Shift, ...], ...]:
    if not isinstance(raw, dict):
        raise HorarioError("«dias» debe tener un día por línea, por ejemplo «lunes: 09:00-18:00»")
    by_day: dict[str, tuple[Shift, ...]] = {}
    for name, value in raw.items():
        key = _ACCENTED.get(str(name).lower(), str(name).lower())
        if key not in DAY_NAMES:
            raise HorarioError(f"«{name}» no es un día (usa: {', '.join(DAY_NAMES)})")
        by_day[key] = _shifts(value, key)
    week = tuple(by_day.get(day, ()) for day in DAY_NAMES)
    if not any(week):
        raise HorarioError("«dias» no tiene ningún tramo: deja el archivo vacío para atender 24/7")
    return week


def _holidays(raw: Any) -> frozenset[date]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        raise HorarioError("«feriados» debe ser una lista de fechas AAAA-MM-DD")
    days = set()
    for item in raw:
        if isinstance(item, date):
            days.add(item)
            continue
        try:
            days.add(date.fromisoformat(str(item)))
        except ValueError:
            raise HorarioError(f"feriados: «{item}» no es una fecha AAAA-MM-DD") from None
    return frozenset(days)


def parse_schedule(text: str) -> Schedule:
    try:
        raw = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as error:
        raise HorarioError(f"el archivo no es YAML válido ({error})") from None
    except ValueError as error:  # e.g. a date like 2025-13-01
        raise HorarioError(f"hay una fecha que no existe ({error})") from None
    if raw is None:
        return Schedule(ZoneInfo(DEFAULT_ZONE))
    if not isinstance(raw, dict):
        raise HorarioError("el archivo debe tener las claves zona_horaria, dias y feriados")
    unknown = set(raw) - {"zona_horaria", "dias", "feriados"}
    if unknown:
        raise HorarioError(f"no conozco: {', '.join(sorted(map(str, unknown)))}")
    try:
        zone = ZoneInfo(str(raw.get("zona_horaria") or DEFAULT_ZONE))
    except (ZoneInfoNotFoundError, ValueError):
        raise HorarioError(f"zona horaria desconocida «{raw.get('zona_horaria')}»") from None
    shifts = _days(raw["dias"]) if raw.get("dias") is not None else None
    return Schedule(zone, shifts, _holidays(raw.get("feriados")))


def hours_path() -> Path:
    return Path(os.environ.get("HORARIO_PATH") or DEFAULT_HOURS_PATH)


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int, size: int) -> Schedule:
    return parse_schedule(Path(path).read_text(encoding="utf-8"))


def load_schedule(path: str | Path | None = None) -> Schedule:
    """The schedule, re-read when the file changes. A missing file means 24/7."""
    resolved = Path(path) if path else hours_path()
    if not resolved.exists():
        return Schedule(ZoneInfo(DEFAULT_ZONE))
    stat = resolved.stat()
    return _load_cached(str(resolved), stat.st_mtime_ns, stat.st_size)


def summary(schedule: Schedule) -> list[str]:
    if schedule.always_open:
        return ["Atención 24 horas, todos los días (archivo vacío)."]
    lines = [f"Zona horaria: {schedule.zone.key}"]
    for name, shifts in zip(DAY_NAMES, schedule.shifts or (), strict=True):
        spans = ", ".join(f"{s.start:%H:%M}-{s.end:%H:%M}" for s in shifts) or "sin atención"
        lines.append(f"  {name}: {spans}")
    lines.append(f"Feriados: {len(schedule.holidays)}")
    return lines


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else hours_path()
    if not path.exists():
        print(f"No existe {path}: se atiende 24/7.")
        return 0
    try:
        schedule = parse_schedule(path.read_text(encoding="utf-8"))
    except HorarioError as error:
        print(f"✗ {path}: {error}")
        return 1
    print(f"Horario válido en {path}:")
    print("\n".join(summary(schedule)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
