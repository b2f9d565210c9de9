"""NLU component: rewrites the message text in normalised form before tokenisation."""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.base import ProjectComponent
from components.text import normalize


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False
)
class TextNormalizer(ProjectComponent):
    """Makes 'dónde', 'donde' and 'DONDEEE' the same text for every later component."""

    @staticmethod
    def _normalize_message(message: Message) -> None:
        text = message.get(TEXT)
        if isinstance(text, str) and text and not text.startswith("/"):
            message.set(TEXT, normalize(text))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._normalize_message(example)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._normalize_message(message)
        return messages
