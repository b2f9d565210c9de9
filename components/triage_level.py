"""NLU component: adds the triage reading and promotes the more dangerous reading.

Runs after the classifiers (and the FallbackClassifier). If an emergency or risk intent is among
the candidates above its floor (data/triage.yml), the message takes that intent, so the
dialogue follows the more dangerous reading too. The reading is added to the parse data as
``triage`` (level, handoff, intent, confidence, promoted_from).
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from components.base import ProjectComponent
from triage.levels import TriageMap, load_triage_map

TRIAGE_KEY = "triage"


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class TriageLevel(ProjectComponent):
    file_key = "triage_file"

    @classmethod
    def load_data(cls, path: str | None) -> TriageMap:
        return load_triage_map(path)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            reading = self._data.assess(
                intent.get("name"),
                float(intent.get("confidence") or 0.0),
                message.get(INTENT_RANKING_KEY) or [],
            )
            if reading.promoted_from is not None:
                message.set(INTENT, {"name": reading.intent, "confidence": reading.confidence})
            message.set(TRIAGE_KEY, reading.as_dict(), add_to_output=True)
        return messages
