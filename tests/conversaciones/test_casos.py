"""The conversation-case format: every shipped file loads; mistakes get a Spanish message."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conversaciones.casos import CaseError, load_cases, load_file
from tests.conversaciones.dominio import Variation, load_responses
from tests.conversaciones.runner import with_dates

HERE = Path(__file__).resolve().parent


def test_shipped_cases_load_and_cover_the_guide():
    cases = load_cases(sorted(HERE.glob("*.yml")))
    assert len([c for c in cases if not c.pending]) >= 40
    kinds = {step.kind for case in cases for step in case.steps}
    assert {"user", "utter", "bot", "boton", "ubicacion", "silencio", "caso", "especialista",
            "slot_was_set", "nota_de_voz", "medio", "evento"} <= kinds


def test_every_utter_step_names_a_domain_response():
    responses = load_responses()
    for case in load_cases(sorted(HERE.glob("*.yml"))):
        for step in case.steps:
            if step.kind == "utter":
                assert step.value in responses, f"{case.name}: {step.value}"


@pytest.mark.parametrize("text,fragment", [
    ("steps: []\n", "test_cases"),
    ("test_cases:\n  - test_case: a\n", "steps"),
    ("test_cases:\n  - test_case: a\n    steps:\n      - dice: hola\n", "paso 1"),
    ("test_cases:\n  - test_case: a\n    steps:\n      - silencio: 99\n", "segundos"),
    ("test_cases:\n  - test_case: a\n    steps:\n      - medio: fax\n", "medio"),
    ("test_cases:\n  - test_case: a\n    color: rojo\n    steps:\n      - user: hola\n", "no conozco"),
])
def test_mistakes_are_explained(tmp_path, text, fragment):
    path = tmp_path / "casos.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CaseError, match=fragment):
        load_file(path)


def test_response_variables_match_any_text():
    variation = Variation("Estás en el lugar {lugar} de la fila.", ())
    assert variation.matches("Estás en el lugar 3 de la fila.")
    assert not variation.matches("Estás en la fila.")


def test_schedule_dates_are_filled_in():
    filled = with_dates("feriados: [{hoy}, {manana}]")
    assert "{" not in filled and filled.count("-") == 4
