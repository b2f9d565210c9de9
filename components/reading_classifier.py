"""NLU component: reads the kind, the immediacy and «wants a person» of each message.

One intent label cannot carry both *what* happened and *when*: «está afuera gritando que me va
a matar» is a threat (the kind) happening now (the immediacy). From the same training data
(data/nlu, whose blocks may carry ``metadata: {inmediatez: …, pide_persona: …}``) this
component learns three readings (components/reading_model.py) and runs the deterministic
safety net (components/safety_net.py):

- it sets ``intent`` and ``intent_ranking`` like any Rasa intent classifier (so the
  FallbackClassifier, ``rasa test nlu`` and ``rasa shell nlu`` see the kind);
- it adds ``signals`` = {now, person, rule, rule_kind}; TriageLevel turns them into the
  reading with the floors of data/triage.yml.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.reading_model import ReadingModel, ReadingSettings
from components.safety_net import verdict
from components.text import normalize
from triage.labelled import labels_from_metadata
from triage.levels import Immediacy, TriageMap, load_triage_map

logger = logging.getLogger(__name__)

SIGNALS_KEY = "signals"


def training_labels(message: Message, triage_map: TriageMap) -> tuple[str, bool, bool] | None:
    """(kind, danger now, wants a person) of one training example, from intent and metadata."""
    kind = message.get(INTENT)
    if not kind or not message.get(TEXT):
        return None
    metadata = (message.get("metadata") or {}).get("intent")
    immediacy, person = labels_from_metadata(kind, metadata, triage_map)
    return kind, immediacy is Immediacy.NOW, person


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class ReadingClassifier(GraphComponent):
    @classmethod
    def get_default_config(cls) -> dict[str, Any]:
        return {"triage_file": None, "safety_rules": None, "ranking_length": 10,
                **ReadingSettings().__dict__}

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 model: ReadingModel | None = None) -> None:
        self._config = config
        self._storage = model_storage
        self._resource = resource
        self._model = model or ReadingModel(ReadingSettings.from_config(config))
        rules = config.get("safety_rules")
        self._rules = frozenset(rules) if rules is not None else None

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> ReadingClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        triage_map = load_triage_map(self._config.get("triage_file"))
        texts: list[str] = []
        rows: list[tuple[str, bool, bool]] = []
        for example in training_data.intent_examples:
            labels = training_labels(example, triage_map)
            if labels is not None:
                texts.append(example.get(TEXT))
                rows.append(labels)
        kinds, now, person = zip(*rows, strict=True) if rows else ((), (), ())
        self._model.fit(texts, kinds, now, person)
        with self._storage.write_to(self._resource) as directory:
            self._model.save(directory)
        return self._resource

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> ReadingClassifier:
        settings = ReadingSettings.from_config(config)
        try:
            with model_storage.read_from(resource) as directory:
                model = ReadingModel.load(directory, settings)
        except ValueError:
            logger.exception("ReadingClassifier could not load its model.")
            model = ReadingModel(settings)
        return cls(config, model_storage, resource, model)

    def process(self, messages: list[Message]) -> list[Message]:
        # Every message gets an intent, even "/intent" payloads (Rasa's RegexMessageHandler
        # overrides those later) and empty text: later components expect one.
        texts = [m.get(TEXT) or "" for m in messages]
        readings = self._model.read_many(texts, self._config["ranking_length"])
        for message, text, raw in zip(messages, texts, readings, strict=True):
            name, confidence = raw.ranking[0] if raw.ranking else (None, 0.0)
            message.set(INTENT, {"name": name, "confidence": confidence}, add_to_output=True)
            message.set(INTENT_RANKING_KEY,
                        [{"name": n, "confidence": c} for n, c in raw.ranking],
                        add_to_output=True)
            found = verdict(normalize(text), self._rules)
            message.set(SIGNALS_KEY, {
                "now": None if raw.now is None else round(raw.now, 4),
                "person": None if raw.person is None else round(raw.person, 4),
                "rule": found.rule if found else None,
                "rule_kind": found.kind if found else None,
                "veto": found.veto if found else None,
            }, add_to_output=True)
        return messages
