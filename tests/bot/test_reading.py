"""The triage reading's parts: the safety net, the three readings, the rule that combines them,
the labelled-data reader, the figures and the gate. Real models, trained in the test on a
small data set (seconds), no mocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.reading_model import ReadingModel, ReadingSettings
from components.safety_net import verdict
from components.text import normalize
from tests.tools.nlu_gate import gate_failures
from triage.evaluation import figures, score
from triage.labelled import Labelled, gold_reading, read_file
from triage.levels import Immediacy, Signals, TriageMap, load_triage_map
from triage.replay import Ablation, reread

TRIAGE = load_triage_map()


# --- safety net ------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "necesito la mascarilla 19, no puedo hablar", "MASCARILA-19", "mascarilla19",
    "quiero una mascarilla diecinueve porfa", "me da una Máscarilla n°19?", "mascarillas 19",
])
def test_code_phrase_in_any_spelling_and_position(text):
    found = verdict(normalize(text))
    assert found is not None and (found.kind, found.veto) == ("codigo_mascarilla", None)


@pytest.mark.parametrize("text", [
    "venden mascarillas?", "mascarilla para el pelo", "mascarillas a 1900", "mascarilla 190",
    "la mascarilla kn95 sirve?",
])
def test_a_face_mask_without_the_19_is_never_the_code_phrase(text):
    found = verdict(normalize(text))
    assert found is not None and (found.kind, found.veto) == (None, "codigo_mascarilla")


@pytest.mark.parametrize("text", ["ayuda con la tarea", "necesito ayuda para denunciar", "hola"])
def test_safety_net_says_nothing_about_ordinary_messages(text):
    assert verdict(normalize(text)) is None


def test_disabled_rules_do_not_fire():
    assert verdict("mascarilla 19", frozenset()) is None


def test_a_vetoed_kind_gives_way_to_the_next_candidate():
    ranking = [{"name": "codigo_mascarilla", "confidence": 0.7},
               {"name": "fuera_de_alcance", "confidence": 0.25}]
    reading = TRIAGE.assess("codigo_mascarilla", 0.7, ranking,
                            Signals(now=0.0, rule="frase_clave", veto="codigo_mascarilla"))
    assert (reading.kind, reading.level) == ("fuera_de_alcance", "other")


# --- the rule that combines the readings ------------------------------------------------------
def test_danger_now_makes_any_kind_an_emergency():
    reading = TRIAGE.assess("amenazas", 0.9, (), Signals(now=0.99, person=0.0))
    assert (reading.level, reading.kind, reading.intent) == ("emergency", "amenazas",
                                                             "emergencia_ahora")
    assert reading.immediacy == Immediacy.NOW.value and reading.handoff


def test_danger_now_for_someone_else_follows_the_third_party_path():
    reading = TRIAGE.assess("violencia_tercero", 0.8, (), Signals(now=0.99))
    assert (reading.level, reading.intent) == ("emergency", "emergencia_tercero")


def test_past_violence_stays_risk():
    reading = TRIAGE.assess("amenazas", 0.9, (), Signals(now=0.01, person=0.0))
    assert (reading.level, reading.intent, reading.immediacy) == ("risk", "amenazas", "pasado")


def test_a_calm_question_needs_a_higher_now_reading_than_a_story_of_violence():
    floors = TriageMap(TRIAGE.rules, {"ahora": 0.5, "ahora_sin_violencia": 0.9})
    assert floors.assess("info_denuncia", 0.9, (), Signals(now=0.7)).level == "info"
    assert floors.assess("amenazas", 0.9, (), Signals(now=0.7)).level == "emergency"


def test_asking_for_a_person_hands_off_and_the_dialogue_asks_for_contact():
    floors = TriageMap(TRIAGE.rules, {"pide_persona": 0.5})
    reading = floors.assess("info_asesoria_legal", 0.8, (), Signals(now=0.0, person=0.9))
    assert (reading.handoff, reading.wants_person, reading.intent, reading.level) == (
        True, True, "pedir_persona", "info")


def test_a_form_answer_keeps_its_intent_even_when_she_asks_for_a_person():
    floors = TriageMap(TRIAGE.rules, {"pide_persona": 0.5})
    reading = floors.assess("afirmar", 0.9, (), Signals(now=0.0, person=0.9))
    assert reading.intent == "afirmar" and reading.handoff


def test_the_safety_net_overrides_a_calm_reading():
    reading = TRIAGE.assess("fuera_de_alcance", 0.9, (),
                            Signals(now=0.0, rule="frase_clave", rule_kind="codigo_mascarilla"))
    assert (reading.level, reading.intent, reading.rule) == (
        "emergency", "codigo_mascarilla", "frase_clave")


def test_payloads_without_signals_read_from_the_triage_file():
    assert TRIAGE.reading_of({"intent": {"name": "violencia_fisica", "confidence": 1.0}}).level == "risk"
    assert TRIAGE.reading_of({"intent": {"name": "pedir_persona"}}).handoff is True


def test_stored_readings_round_trip():
    reading = TRIAGE.assess("amenazas", 0.9, (), Signals(now=0.99))
    assert TRIAGE.reading_of({"triage": reading.as_dict()}) == reading


# --- labelled data ---------------------------------------------------------------------------
def test_metadata_sets_immediacy_and_person_with_defaults(tmp_path: Path):
    path = tmp_path / "voz.yml"
    path.write_text(
        'version: "3.1"\nnlu:\n'
        "- intent: amenazas\n  examples: |\n    - me amenazo ayer\n"
        "- intent: amenazas\n  metadata:\n    inmediatez: ahora\n    pide_persona: true\n"
        "  examples: |\n    - esta afuera, q alguien me hable\n"
        "- intent: emergencia_ahora\n  examples: |\n    - vengan\n", encoding="utf-8")
    past, now, emergency = read_file(path, TRIAGE)
    assert (past.immediacy, past.wants_person) == (Immediacy.PAST, False)
    assert (now.immediacy, now.wants_person, now.source) == (Immediacy.NOW, True, "voz")
    assert emergency.immediacy is Immediacy.NOW
    assert gold_reading(now, TRIAGE).level == "emergency"


def test_bad_metadata_gets_a_spanish_error(tmp_path: Path):
    path = tmp_path / "x.yml"
    path.write_text('nlu:\n- intent: amenazas\n  metadata:\n    inmediatez: luego\n'
                    '  examples: |\n    - x\n', encoding="utf-8")
    with pytest.raises(ValueError, match="ahora, pasado o ninguna"):
        read_file(path, TRIAGE)


# --- the reading models ----------------------------------------------------------------------
TINY = [
    ("me pego ayer", "violencia_fisica", False, False),
    ("el mes pasado me golpeo", "violencia_fisica", False, False),
    ("siempre me pega cuando toma", "violencia_fisica", False, False),
    ("me esta pegando ahora", "violencia_fisica", True, False),
    ("esta afuera pegandole a la puerta", "violencia_fisica", True, False),
    ("viene en camino a pegarme", "violencia_fisica", True, False),
    ("como denuncio", "info_denuncia", False, False),
    ("donde se hace la denuncia", "info_denuncia", False, False),
    ("quiero hablar con una persona", "pedir_persona", False, True),
    ("una persona de verdad porfa", "pedir_persona", False, True),
]


def test_reading_model_learns_three_readings_and_survives_a_save(tmp_path: Path):
    texts, kinds, now, person = zip(*TINY, strict=True)
    model = ReadingModel(ReadingSettings()).fit(texts, kinds, now, person)
    model.save(tmp_path)
    loaded = ReadingModel.load(tmp_path, ReadingSettings())
    (now_reading, past_reading, person_reading) = loaded.read_many(
        ["ahora esta afuera pegando", "ayer me pego", "necesito una persona"])
    assert now_reading.now > past_reading.now
    assert person_reading.person > past_reading.person
    assert person_reading.ranking[0][0] == "pedir_persona"
    assert loaded.read_many([]) == []


def test_shared_featurisation_reads_exactly_what_each_pipeline_reads(tmp_path: Path):
    """The heads are featurised once when (and only when) their fitted features are equal."""
    import numpy as np

    texts, kinds, now, person = zip(*TINY, strict=True)
    ReadingModel(ReadingSettings()).fit(texts, kinds, now, person).save(tmp_path)
    loaded = ReadingModel.load(tmp_path, ReadingSettings())
    assert loaded._shared is not None
    probe = ["ahora esta afuera pegando", "ayer me pego", "hola", "", "ñaña 🙏 qué onda"]
    clean = [normalize(t) for t in probe]
    shared = loaded._probabilities(clean)
    for head, pipeline in loaded.models.items():
        assert np.allclose(shared[head], pipeline.predict_proba(clean), rtol=0, atol=1e-12)
    # heads fitted on different texts have different vocabularies: no sharing
    other = ReadingModel(ReadingSettings()).fit(texts[:-3], kinds[:-3], now[:-3], person[:-3])
    mixed = ReadingModel(ReadingSettings(), {"kind": loaded.models["kind"],
                                             "now": other.models["now"]})
    assert mixed._shared is None
    assert np.allclose(mixed.read_many(probe)[0].now,
                       other.models["now"].predict_proba(clean[:1])[0][1])


# --- figures, ablation and gate -------------------------------------------------------------
def _labelled(text, kind, immediacy=Immediacy.NONE, person=False):
    return Labelled(text, kind, immediacy, person, "prueba")


def test_figures_count_what_she_needs():
    messages = [_labelled("a", "amenazas", Immediacy.NOW), _labelled("b", "amenazas", Immediacy.PAST),
                _labelled("c", "info_denuncia"), _labelled("d", "info_denuncia", person=True),
                _labelled("e", "info_denuncia")]
    readings = [TRIAGE.assess("amenazas", 0.9, (), Signals(now=0.1)),     # missed emergency
                TRIAGE.assess("amenazas", 0.9, (), Signals(now=0.1)),
                TRIAGE.assess("violencia_fisica", 0.9, (), Signals(now=0.1)),  # calm handed off
                TRIAGE.assess("info_denuncia", 0.9, (), Signals(now=0.1)),     # person missed
                TRIAGE.assess("info_denuncia", 0.9, (), Signals(now=0.1))]
    f = figures(score(messages, readings, TRIAGE))
    assert f["emergency_recall"] == 0.0
    assert f["danger_handed_off"] == 1.0
    assert f["calm_handed_off"] == 0.5
    assert f["person_handed_off"] == 0.0
    assert f["confusion"]["emergency"]["risk"] == 1


def test_ablation_rereads_without_a_part():
    parse = {"intent_ranking": [{"name": "amenazas", "confidence": 0.9}],
             "signals": {"now": 0.99, "person": 0.0, "rule": None}}
    assert reread(parse, TRIAGE).level == "emergency"
    assert reread(parse, TRIAGE, Ablation(without_now=True)).level == "risk"


def _readers(ours: dict, baseline_f1: float) -> dict:
    base = {"emergency_recall": 0.9, "danger_handed_off": 0.99, "calm_handed_off": 0.01,
            "person_handed_off": 0.95, "macro_f1_levels": 0.9}
    return {"modelo del proyecto": {**base, **ours},
            "TF-IDF + regresión logística": {**base, "macro_f1_levels": baseline_f1}}


def test_gate_passes_a_good_model_and_names_each_failure():
    good = {"emergency_recall": 0.97, "macro_f1_levels": 0.93}
    assert gate_failures(_readers(good, 0.9)) == []
    failures = gate_failures(_readers({"emergency_recall": 0.94, "calm_handed_off": 0.2,
                                       "macro_f1_levels": 0.85}, 0.9))
    assert len(failures) == 3
    assert any("emergencias" in f for f in failures) and any("TF-IDF" in f for f in failures)


def test_loading_the_reading_model_leaves_the_server_logging_as_it_was():
    """skops' import used to set the root logger to WARNING (via numpy.distutils): Rasa then
    logged nothing at INFO after loading the model. Checked in a fresh interpreter, where
    skops is not imported yet."""
    import subprocess
    import sys

    probe = ("import logging; root = logging.getLogger(); root.setLevel(logging.INFO); "
             "from components.reading_model import _skops_io; _skops_io(); "
             "print(root.level, type(logging.getLogger()).__name__)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2], check=True).stdout.split()
    assert out == [str(20), "RootLogger"]
