"""Labelled review items become Rasa NLU YAML under data/nlu/revisadas/ (training/labelling.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

from training.labelling import (
    Label,
    LabelError,
    ReviewedWriter,
    WriteResult,
    clean_example,
    intent_choices,
)
from triage.labelled import read_file
from triage.levels import Immediacy

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2026, 12, 1)


@pytest.fixture
def writer(tmp_path: Path) -> ReviewedWriter:
    return ReviewedWriter(directory=tmp_path / "revisadas")


def test_labels_are_written_as_nlu_yaml_with_metadata(writer: ReviewedWriter) -> None:
    now = Label("amenazas", Immediacy.NOW, False)
    assert writer.write("esta afuera con un cuchillo cantando q me va a matar x infiel", now, DAY) \
        is WriteResult.WRITTEN
    writer.write("kiero hablar con una tia de verdad, me llamo yesenia",
                 Label("pedir_persona", Immediacy.NONE, True), DAY)
    writer.write("le dijo a mi hermana q esta noche me mata si no le abro", Label("amenazas", Immediacy.NOW, False), DAY)
    path = writer.month_file(DAY)
    assert path.name == "2026-12.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["version"] == "3.1"
    blocks = {b["intent"]: b for b in data["nlu"]}
    assert blocks["amenazas"]["metadata"] == {"inmediatez": "ahora", "pide_persona": False}
    read = {(m.text, m.kind, m.immediacy, m.wants_person)
            for m in read_file(path, writer._triage)}
    assert read == {
        ("esta afuera con un cuchillo cantando q me va a matar x infiel", "amenazas", Immediacy.NOW, False),
        ("le dijo a mi hermana q esta noche me mata si no le abro", "amenazas", Immediacy.NOW, False),
        ("kiero hablar con una tia de verdad, me llamo <nombre>", "pedir_persona",
         Immediacy.NONE, True),
    }
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_another_month_is_another_file(writer: ReviewedWriter) -> None:
    assert writer.write("holaa buenas noches señorita q tal", Label("saludar", Immediacy.NONE, False),
                        date(2027, 1, 3)) is WriteResult.WRITTEN
    assert writer.month_file(date(2027, 1, 3)).exists()
    assert not writer.month_file(DAY).exists()


def test_evaluation_messages_are_never_written(writer: ReviewedWriter) -> None:
    evaluation = yaml.safe_load(
        (ROOT / "tests" / "nlu" / "evaluacion" / "urbana.yml").read_text(encoding="utf-8"))
    text = evaluation["nlu"][0]["examples"].splitlines()[0][2:]
    with pytest.raises(LabelError, match="evaluación o validación"):
        writer.write(text, Label(evaluation["nlu"][0]["intent"], Immediacy.NOW, False), DAY)
    assert not writer.month_file(DAY).exists()


def test_a_known_message_is_not_repeated_nor_contradicted(writer: ReviewedWriter) -> None:
    known = "me esta pegando ahora"  # data/nlu/emergencia.yml
    assert writer.write(known, Label("emergencia_ahora", Immediacy.NOW, False), DAY) \
        is WriteResult.ALREADY_THERE
    with pytest.raises(LabelError, match="emergencia.yml"):
        writer.write(known, Label("violencia_fisica", Immediacy.PAST, False), DAY)
    assert not writer.month_file(DAY).exists()


def test_unknown_intents_are_refused(writer: ReviewedWriter) -> None:
    with pytest.raises(LabelError, match="no existe"):
        writer.write("hola", Label("no_existe", Immediacy.NONE, False), DAY)
    with pytest.raises(LabelError):
        writer.write("hola", Label("nlu_fallback", Immediacy.NONE, False), DAY)


def test_examples_are_one_plain_redacted_line() -> None:
    assert clean_example("/restart [Juan](nombre)\nllamame al 912345678\t ") == \
        "restart (<nombre>)(nombre) llamame al <telefono>"


def test_choices_come_from_triage_yml_with_descriptions() -> None:
    choices = {c.name: c for c in intent_choices()}
    assert "nlu_fallback" not in choices
    assert choices["codigo_mascarilla"].level == "emergency"
    assert "Mascarilla 19" in choices["codigo_mascarilla"].description


@pytest.mark.integration
def test_rasa_data_validate_accepts_the_written_file(tmp_path: Path) -> None:
    """A copy of the project's data with a month of labels passes the validation of make test."""
    for name in ("config.yml", "domain.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "data", tmp_path / "data")
    shutil.copytree(ROOT / "tests" / "nlu", tmp_path / "tests" / "nlu")
    writer = ReviewedWriter(directory=tmp_path / "data" / "nlu" / "revisadas",
                            training_dir=tmp_path / "data" / "nlu",
                            held_out=[tmp_path / "tests" / "nlu"])
    writer.write("el weon me pego una cachetada anoche en la casa de mi suegra",
                 Label("violencia_fisica", Immediacy.PAST, False), DAY)
    writer.write("quiero que me escriba alguien, una persona no un robot xfa: 'ya'",
                 Label("pedir_persona", Immediacy.NONE, True), DAY)
    (tmp_path / "data" / "nlu" / "revisadas" / "README.md").write_text(
        (ROOT / "data" / "nlu" / "revisadas" / "README.md").read_text(encoding="utf-8"))
    result = subprocess.run(
        [str(Path(sys.executable).with_name("rasa")), "data", "validate", "--fail-on-warnings"],
        cwd=tmp_path, capture_output=True, text=True)
    from tests.tools.validate_data import problems

    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert problems(output) == []
