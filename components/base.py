"""The boilerplate every custom NLU component of this project shares."""

from __future__ import annotations

from typing import Any, ClassVar

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage


class ProjectComponent(GraphComponent):
    """A stateless component, optionally built from one data file read when the model loads.

    ``file_key`` names the config option holding the file's path (None: the default path);
    ``load_data`` turns that path into what the component needs.
    """

    file_key: ClassVar[str | None] = None

    def __init__(self, data: Any = None) -> None:
        self._data = data

    @classmethod
    def get_default_config(cls) -> dict[str, Any]:
        return {cls.file_key: None} if cls.file_key else {}

    @classmethod
    def load_data(cls, path: str | None) -> Any:
        return None

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ProjectComponent:
        return cls(cls.load_data(config.get(cls.file_key) if cls.file_key else None))
