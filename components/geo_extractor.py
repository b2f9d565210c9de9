"""NLU component: extracts the entities ``comuna`` and ``region`` with the Chile gazetteer."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from components.chile_geo import ChileGeo, load_geo


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class ChileGeoExtractor(GraphComponent, EntityExtractorMixin):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"geo_file": None}

    def __init__(self, geo: ChileGeo) -> None:
        self._geo = geo

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ChileGeoExtractor:
        return cls(load_geo(config.get("geo_file")))

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
                for match in self._geo.find(text)
            ]
            if found:
                message.set(ENTITIES, (message.get(ENTITIES) or []) + found, add_to_output=True)
        return messages
