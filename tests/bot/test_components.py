"""The custom NLU components on real Rasa messages, built the way Rasa builds them."""

from __future__ import annotations

from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.geo_extractor import ChileGeoExtractor
from components.normalizer import TextNormalizer
from components.triage_level import TriageLevel


def build(component_class, **config):
    return component_class.create({**component_class.get_default_config(), **config},
                                  None, None, None)


def test_normalizer_rewrites_text_but_never_intent_syntax():
    messages = [Message({"text": "DÓNDE está mi HIJAAAA"}), Message({"text": "/afirmar"})]
    build(TextNormalizer).process(messages)
    assert [m.get("text") for m in messages] == ["donde esta mi hija", "/afirmar"]
    data = TrainingData([Message({"text": "Ayúdame", "intent": "pedir_auxilio"})])
    assert build(TextNormalizer).process_training_data(data).training_examples[0].get("text") == "ayudame"


def test_geo_extractor_adds_comuna_and_region_entities():
    (message,) = build(ChileGeoExtractor).process([Message({"text": "vivo en pte alto, rm"})])
    found = [(e["entity"], e["value"]) for e in message.get("entities")]
    assert ("comuna", "Puente Alto") in found
    assert ("region", "Región Metropolitana de Santiago") in found
    assert message.get("entities")[0]["start"] == len("vivo en ")


def test_triage_level_promotes_the_dangerous_candidate_and_reports_it():
    ranking = [{"name": "nlu_fallback", "confidence": 0.4},
               {"name": "saludar", "confidence": 0.35},
               {"name": "emergencia_ahora", "confidence": 0.3}]
    message = Message({"text": "x", "intent": {"name": "nlu_fallback", "confidence": 0.4},
                       "intent_ranking": ranking})
    build(TriageLevel).process([message])
    assert message.get("intent")["name"] == "emergencia_ahora"
    triage = message.get("triage")
    assert (triage["level"], triage["handoff"], triage["promoted_from"]) == (
        "emergency", True, "nlu_fallback")


def test_triage_level_keeps_a_confident_harmless_reading():
    message = Message({"text": "x", "intent": {"name": "info_denuncia", "confidence": 0.9},
                       "intent_ranking": [{"name": "info_denuncia", "confidence": 0.9},
                                          {"name": "emergencia_ahora", "confidence": 0.01}]})
    build(TriageLevel).process([message])
    assert message.get("intent")["name"] == "info_denuncia"
    assert message.get("triage")["level"] == "info"
