"""NLU component: extracts the entities ``comuna`` and ``region`` with the Chile gazetteer."""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from components.base import ProjectComponent
from components.chile_geo import ChileGeo, load_geo


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class ChileGeoExtractor(ProjectComponent, EntityExtractorMixin):
    file_key = "geo_file"

    @classmethod
    def load_data(cls, path: str | None) -> ChileGeo:
        return load_geo(path)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if not text or text.startswith("/"):
                continue
            found = [
                {
                    "entity": match.place.entity,
                    "value": match.place.name,
                    "start": match.start,
                    "end": match.end,
                    "confidence": 1.0,
                    "extractor": self.__class__.__name__,
                }
                for match in self._data.find(text)
            ]
            if found:
                message.set(ENTITIES, (message.get(ENTITIES) or []) + found, add_to_output=True)
        return messages
