"""Opening hours (data/horario.yml): the rules, daylight saving, midnight, holidays, errors."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from handoff.hours import (
    HorarioError,
    describe_return,
    is_open,
    load_schedule,
    main,
    next_opening,
    parse_schedule,
)

SANTIAGO = ZoneInfo("America/Santiago")
WEEKDAYS = """
dias:
  lunes: "09:00-18:00"
  martes: "09:00-18:00"
  miércoles: "09:00-18:00"
  jueves: "09:00-18:00"
  viernes: ["09:00-13:00", "15:00-20:00"]
  sabado: "20:00-02:00"
feriados:
  - 2025-09-18
  - 2025-09-19
"""


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SANTIAGO)


def test_empty_file_means_always_open():
    for text in ("", "# solo comentarios\n"):
        schedule = parse_schedule(text)
        assert schedule.always_open and is_open(schedule, at(2025, 1, 1, 3, 0))


def test_weekday_hours_and_split_shift():
    schedule = parse_schedule(WEEKDAYS)
    assert is_open(schedule, at(2025, 9, 15, 9, 0))  # Monday, opening minute
    assert not is_open(schedule, at(2025, 9, 15, 18, 0))  # closing minute is closed
    assert not is_open(schedule, at(2025, 9, 12, 14, 0))  # Friday lunch break
    assert next_opening(schedule, at(2025, 9, 12, 14, 0)) == at(2025, 9, 12, 15, 0)


def test_shift_across_midnight_belongs_to_the_day_it_starts():
    schedule = parse_schedule(WEEKDAYS)
    assert is_open(schedule, at(2025, 9, 13, 23, 30))  # Saturday night
    assert is_open(schedule, at(2025, 9, 14, 1, 59))  # early Sunday, same shift
    assert not is_open(schedule, at(2025, 9, 14, 2, 0))
    assert next_opening(schedule, at(2025, 9, 14, 2, 0)) == at(2025, 9, 15, 9, 0)


def test_holidays_close_the_day_and_the_next_opening_skips_them():
    schedule = parse_schedule(WEEKDAYS)  # 18 and 19 September 2025: Thursday and Friday
    assert not is_open(schedule, at(2025, 9, 18, 10, 0))
    assert next_opening(schedule, at(2025, 9, 17, 19, 0)) == at(2025, 9, 20, 20, 0)


def test_daylight_saving_changes_in_santiago():
    # Chile moves clocks forward at 24:00 on 6 September 2025 (00:00 does not exist on the 7th)
    # and back at 24:00 on 5 April 2025 (23:00-24:00 happens twice).
    schedule = parse_schedule('dias:\n  domingo: "00:00-03:00"\n  sabado: "22:00-23:30"\n')
    assert is_open(schedule, at(2025, 9, 7, 1, 30))
    assert not is_open(schedule, at(2025, 9, 7, 3, 0))
    # the same wall-clock shift lasts one hour less in UTC that night
    start = datetime(2025, 9, 7, 0, 0, tzinfo=SANTIAGO).astimezone(timezone.utc)
    end = datetime(2025, 9, 7, 3, 0, tzinfo=SANTIAGO).astimezone(timezone.utc)
    assert (end - start).total_seconds() == 2 * 3600
    # autumn: the shift ends the first time the clock shows 23:30; the repeated hour is closed
    first = datetime(2025, 4, 5, 23, 15, tzinfo=SANTIAGO, fold=0)
    second = datetime(2025, 4, 5, 23, 15, tzinfo=SANTIAGO, fold=1)
    assert is_open(schedule, first) and not is_open(schedule, second)
    assert next_opening(schedule, second) == at(2025, 4, 6, 0, 0)


def test_now_in_utc_is_read_in_santiago_time():
    schedule = parse_schedule(WEEKDAYS)
    # 11:00 UTC on Monday 15 September 2025 is 08:00 in Santiago (summer time, UTC-3)
    assert not is_open(schedule, datetime(2025, 9, 15, 11, 0, tzinfo=timezone.utc))
    assert is_open(schedule, datetime(2025, 9, 15, 12, 0, tzinfo=timezone.utc))
    # in July (winter, UTC-4) 12:00 UTC is 08:00: closed
    assert not is_open(schedule, datetime(2025, 7, 14, 12, 0, tzinfo=timezone.utc))


def test_describe_return_in_spanish():
    now = at(2025, 9, 15, 20, 0)  # Monday
    assert describe_return(at(2025, 9, 15, 21, 0), now) == "hoy a las 21:00"
    assert describe_return(at(2025, 9, 16, 9, 0), now) == "mañana a las 09:00"
    assert describe_return(at(2025, 9, 20, 9, 0), now) == "el sábado a las 09:00"
    assert describe_return(at(2025, 9, 24, 9, 0), now) == "el miércoles 24 de septiembre a las 09:00"


@pytest.mark.parametrize("text,fragment", [
    ("dias:\n  lunes: '09:00'\n", "inicio-fin"),
    ("dias:\n  lunes: 9-18\n", "no es una hora"),
    ("dias:\n  lunes: '9:00-25:00'\n", "no es una hora"),
    ("dias:\n  lunez: '09:00-18:00'\n", "no es un día"),
    ("dias:\n  lunes: '09:00-09:00'\n", "misma hora"),
    ("dias: {}\n", "ningún tramo"),
    ("dias:\n  lunes: '09:00-18:00'\nferiados: [2025-13-01]\n", "fecha que no existe"),
    ("dias:\n  lunes: '09:00-18:00'\nferiados: [mañana]\n", "no es una fecha"),
    ("zona_horaria: Marte/Olympus\n", "zona horaria desconocida"),
    ("horas: 1\n", "no conozco"),
    ("dias: [\n", "YAML"),
])
def test_bad_files_get_a_clear_spanish_error(text, fragment):
    with pytest.raises(HorarioError, match=fragment):
        parse_schedule(text)


def test_loading_rereads_a_changed_file_and_missing_file_is_24_7(tmp_path, monkeypatch):
    path = tmp_path / "horario.yml"
    monkeypatch.setenv("HORARIO_PATH", str(path))
    assert load_schedule().always_open
    path.write_text(WEEKDAYS, encoding="utf-8")
    assert not load_schedule().always_open
    assert date(2025, 9, 18) in load_schedule().holidays


def test_checker_command(tmp_path, capsys):
    good, bad = tmp_path / "bueno.yml", tmp_path / "malo.yml"
    good.write_text(WEEKDAYS, encoding="utf-8")
    bad.write_text("dias:\n  lunes: nunca\n", encoding="utf-8")
    assert main([str(good)]) == 0 and "viernes: 09:00-13:00, 15:00-20:00" in capsys.readouterr().out
    assert main([str(bad)]) == 1 and "✗" in capsys.readouterr().out


def test_shipped_file_is_valid_and_empty():
    assert load_schedule().always_open or load_schedule().shifts
