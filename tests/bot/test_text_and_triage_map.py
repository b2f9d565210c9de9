from pathlib import Path

import pytest
import yaml

from components.text import neutralize_intent_syntax, normalize
from triage.labelled import gold_reading, read_tree
from triage.levels import load_triage_map

ROOT = Path(__file__).resolve().parents[2]


def test_normalize_accents_case_and_elongation():
    assert normalize("  ¿DÓNDE   está Ñuñoa?? AYUDAAAA ") == "¿donde esta nunoa?? ayuda"
    assert normalize("creer llorar") == "creer llorar"  # double letters stay


@pytest.mark.parametrize("text,expected", [("/restart", "restart"), ("  //stop now", "stop now"),
                                           ("hola /x", "hola /x"), ("/", ""),
                                           (" / /restart", "restart"), (None, "")])
def test_neutralize_intent_syntax(text, expected):
    assert neutralize_intent_syntax(text) == expected


def _nlu_intents() -> set[str]:
    intents = set()
    for path in (ROOT / "data" / "nlu").rglob("*.yml"):
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            if "intent" in block:
                intents.add(block["intent"])
    return intents


def test_every_intent_has_a_level_and_every_level_an_intent():
    triage = load_triage_map()
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    mapped = set(triage.rules)
    assert set(domain["intents"]) <= mapped, set(domain["intents"]) - mapped
    assert _nlu_intents() <= mapped, _nlu_intents() - mapped
    assert mapped - {"nlu_fallback"} <= set(domain["intents"]), mapped - set(domain["intents"])
    for level in ("emergency", "risk", "info", "other"):
        assert triage.intents_at(level), level


def test_every_danger_intent_has_enough_training_examples():
    triage = load_triage_map()
    counts = {}
    for path in (ROOT / "data" / "nlu").rglob("*.yml"):
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            lines = [x for x in block["examples"].splitlines() if x.strip().startswith("- ")]
            counts[block["intent"]] = counts.get(block["intent"], 0) + len(lines)
    for intent in triage.intents_at("emergency") + triage.intents_at("risk"):
        assert counts.get(intent, 0) >= 40, (intent, counts.get(intent))


def _texts(root: Path) -> set[str]:
    triage = load_triage_map()
    return {normalize(m.text) for m in read_tree(root, triage)}


@pytest.mark.parametrize("measured", ["validacion", "evaluacion"])
def test_measured_sets_are_not_copies_of_training(measured):
    """Validation and evaluation lines must not be in data/nlu (very short ones cannot differ)."""
    overlap = _texts(ROOT / "tests" / "nlu" / measured) & _texts(ROOT / "data" / "nlu")
    assert all(len(x.split()) <= 2 for x in overlap), [x for x in overlap if len(x.split()) > 2]


def test_evaluation_is_not_a_copy_of_validation():
    overlap = _texts(ROOT / "tests/nlu/evaluacion") & _texts(ROOT / "tests/nlu/validacion")
    assert all(len(x.split()) <= 2 for x in overlap), [x for x in overlap if len(x.split()) > 2]


def test_evaluation_set_has_what_the_gate_needs():
    """At least 600 messages: 100 emergencies, 60 asking for a person, 150 calm with violent words."""
    triage = load_triage_map()
    messages = read_tree(ROOT / "tests" / "nlu" / "evaluacion", triage)
    golds = [gold_reading(m, triage) for m in messages]
    assert len(messages) >= 600
    assert sum(g.level == "emergency" for g in golds) >= 100
    assert sum(m.wants_person for m in messages) >= 60
    assert sum(not g.handoff for g in golds) >= 150
    assert len({m.source for m in messages}) >= 4


def test_promotion_to_the_more_dangerous_reading():
    triage = load_triage_map()
    floor = triage.floors["emergency"]
    ranking = [{"name": "saludar", "confidence": 0.6},
               {"name": "emergencia_ahora", "confidence": floor + 0.01}]
    reading = triage.assess("saludar", 0.6, ranking)
    assert (reading.intent, reading.level, reading.promoted_from) == (
        "emergencia_ahora", "emergency", "saludar")


def test_candidates_below_the_floor_do_not_promote():
    triage = load_triage_map()
    ranking = [{"name": "saludar", "confidence": 0.9},
               {"name": "emergencia_ahora", "confidence": triage.floors["emergency"] - 0.01},
               {"name": "violencia_fisica", "confidence": triage.floors["risk"] - 0.01}]
    reading = triage.assess("saludar", 0.9, ranking)
    assert (reading.intent, reading.level, reading.promoted_from) == ("saludar", "other", None)


def test_low_confidence_never_lowers_the_level():
    triage = load_triage_map()
    ranking = [{"name": "nlu_fallback", "confidence": 0.4},
               {"name": "violencia_fisica", "confidence": 0.35},
               {"name": "emergencia_ahora", "confidence": 0.3}]
    reading = triage.assess("nlu_fallback", 0.4, ranking)
    assert reading.level == "emergency" and reading.handoff is True
    # a risk top intent is never demoted by a weaker info candidate
    reading = triage.assess("violencia_fisica", 0.5, [{"name": "info_denuncia", "confidence": 0.45}])
    assert reading.level == "risk"


def test_fallback_with_no_dangerous_candidate_stays_other():
    triage = load_triage_map()
    reading = triage.assess("nlu_fallback", 0.4, [{"name": "info_denuncia", "confidence": 0.3}])
    assert (reading.level, reading.handoff) == ("other", False)


@pytest.mark.parametrize("content,message", [
    ("umbrales: {}\n", "intenciones"),
    ("intenciones:\n  x: {nivel: grave, derivar: true}\n", "nivel 'grave'"),
    ("intenciones:\n  x: {nivel: risk, derivar: quizas}\n", "derivar"),
    ("umbrales: {emergency: 2}\nintenciones:\n  x: {nivel: risk, derivar: true}\n", "entre 0 y 1"),
])
def test_bad_triage_file_gets_a_clear_spanish_error(tmp_path, content, message):
    path = tmp_path / "triage.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_triage_map(path)


@pytest.mark.parametrize(("text", "expected"), [
    ("hola \ud83d", "hola \ufffd"), ("\udcff/restart", "\ufffd/restart"),
    ("\ud83d\ude00 ayuda", "\U0001F600 ayuda"), ("/\ud800", "\ufffd")])
def test_lone_surrogates_become_replacement_characters(text, expected):
    """Valid JSON (``"\\ud83d"``) but not UTF-8: spaCy raised on it and she got silence."""
    clean = neutralize_intent_syntax(text)
    assert clean == expected
    clean.encode("utf-8")
