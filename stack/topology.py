"""Which topology an endpoints file asks for, and the settings its ``${VAR}``s need.

- ``endpoints.yml`` (embedded): one Rasa instance, SQLite files under the state folder,
  Rasa's in-memory lock store. Rasa itself listens at the public port.
- ``endpoints.production.yml``: the tracker store on PostgreSQL (``DATABASE_URL``), the Redis
  lock store, ``RASA_INSTANCES`` Rasa instances, and nginx listening at the public port in
  front of them. Several instances need a shared lock store: the in-memory one would let
  two instances run turns of the same conversation at once, so that is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from stack.services import DEFAULT_REDIS_HOST, DEFAULT_REDIS_PORT, default_database_url

ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_ENDPOINTS = ROOT / "endpoints.yml"
PRODUCTION_ENDPOINTS = ROOT / "endpoints.production.yml"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class TopologyError(ValueError):
    """The requested topology cannot work (message in Spanish, for `make run`)."""


def placeholders(path: Path) -> set[str]:
    """The ``${VAR}`` names an endpoints file uses (Rasa refuses to start if one is unset)."""
    return set(_PLACEHOLDER.findall(path.read_text(encoding="utf-8")))


def production_defaults(actions_url: str) -> dict[str, str]:
    """Defaults for the ``${VAR}``s of endpoints.production.yml on a development machine."""
    return {
        "ACTION_SERVER_URL": actions_url,
        "DATABASE_URL": default_database_url(),
        "REDIS_HOST": DEFAULT_REDIS_HOST,
        "REDIS_PORT": str(DEFAULT_REDIS_PORT),
        "REDIS_DB": "1",
        "REDIS_PASSWORD": "",
        "REDIS_KEY_PREFIX": "",
        "TRACKER_CACHE_SIZE": "1000",
    }


@dataclass(frozen=True)
class Topology:
    endpoints: Path = EMBEDDED_ENDPOINTS
    instances: int = 1

    def __post_init__(self) -> None:
        if not self.endpoints.is_file():
            raise TopologyError(f"no existe el archivo de endpoints {self.endpoints}")
        if self.instances < 1:
            raise TopologyError("RASA_INSTANCES debe ser 1 o más")
        if self.instances > 1 and not self.shared_lock_store:
            raise TopologyError(
                f"RASA_INSTANCES={self.instances} necesita un lock store compartido (Redis): "
                "usa ENDPOINTS=endpoints.production.yml")

    @property
    def config(self) -> dict:
        return yaml.safe_load(self.endpoints.read_text(encoding="utf-8")) or {}

    @property
    def shared_lock_store(self) -> bool:
        lock_store = self.config.get("lock_store") or {}
        return str(lock_store.get("type") or "in_memory") != "in_memory"

    @property
    def proxied(self) -> bool:
        """nginx in front: the production topology (even with one instance)."""
        return self.shared_lock_store or self.instances > 1

    @property
    def placeholders(self) -> set[str]:
        return placeholders(self.endpoints)

    def embedded_endpoints(self, state_dir: Path, actions_url: str) -> Path:
        """The embedded endpoints with this run's action server and SQLite file."""
        endpoints = self.config
        endpoints.setdefault("action_endpoint", {})["url"] = actions_url
        tracker_store = endpoints.get("tracker_store") or {}
        if tracker_store.get("dialect") == "sqlite":
            tracker_store["db"] = str(state_dir / "tracker.db")
        path = state_dir / "endpoints.yml"
        path.write_text(yaml.safe_dump(endpoints, allow_unicode=True), encoding="utf-8")
        return path
