"""NLU component: the triage reading of each message (data/triage.yml, triage/levels.py).

Runs last, after the classifiers, the reading heads and the FallbackClassifier. It combines
the intent ranking with the immediacy and person signals, so that danger now wins whatever the
kind and the more dangerous candidate wins when in doubt. It then:

- sets the intent the dialogue follows (``emergencia_ahora`` for danger now, ``pedir_persona``
  when she asks for a person, else the kind), keeping the original ranking;
- adds the reading to the parse data as ``triage`` (intent, kind, level, handoff, immediacy,
  wants_person, promoted_from, rule). Actions, the escalation broker and the console read it
  with ``TriageMap.reading_of``; the rules follow the intent, so the emergency answer needs
  no custom action and no action server.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from components.base import ProjectComponent
from triage.levels import Signals, TriageMap, load_triage_map

TRIAGE_KEY = "triage"
SIGNALS_KEY = "signals"


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
            self._read(message)
        return messages

    def _read(self, message: Message) -> None:
        intent = message.get(INTENT) or {}
        raw_signals = message.get(SIGNALS_KEY)
        signals = Signals.from_parse_data({SIGNALS_KEY: raw_signals}) if raw_signals else Signals()
        reading = self._data.assess(
            intent.get("name"),
            float(intent.get("confidence") or 0.0),
            message.get(INTENT_RANKING_KEY) or [],
            signals,
        )
        if reading.intent != intent.get("name"):
            message.set(INTENT, {"name": reading.intent, "confidence": reading.confidence},
                        add_to_output=True)
        message.set(TRIAGE_KEY, reading.as_dict(), add_to_output=True)
