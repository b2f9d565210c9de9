"""NLU component: adds the triage reading and promotes the more dangerous reading.

Runs after the classifiers (and the FallbackClassifier). If an emergency or risk intent is among
the candidates above its floor (data/triage.yml), the message takes that intent, so the
dialogue follows the more dangerous reading too. The reading is added to the parse data as
``triage`` (level, handoff, intent, confidence, promoted_from).
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from triage.levels import TriageMap, load_triage_map

TRIAGE_KEY = "triage"


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class TriageLevel(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"triage_file": None}

    def __init__(self, triage_map: TriageMap) -> None:
        self._triage = triage_map

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TriageLevel:
        return cls(load_triage_map(config.get("triage_file")))

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            reading = self._triage.assess(
                intent.get("name"),
                float(intent.get("confidence") or 0.0),
                message.get(INTENT_RANKING_KEY) or [],
            )
            if reading.promoted_from is not None:
                message.set(INTENT, {"name": reading.intent, "confidence": reading.confidence})
            message.set(TRIAGE_KEY, reading.as_dict(), add_to_output=True)
        return messages
