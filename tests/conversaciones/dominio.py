"""What a ``- utter: utter_x`` step expects: the text and buttons of that response in domain.yml."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
_VARIABLE = re.compile(r"\\\{[A-Za-z_][A-Za-z0-9_]*\\\}")


@dataclass(frozen=True)
class Variation:
    text: str
    buttons: tuple[str, ...]

    def matches(self, shown: str) -> bool:
        """Exact text; a ``{variable}`` in the response matches any text."""
        pattern = _VARIABLE.sub(lambda _m: ".+?", re.escape(self.text.strip()))
        return re.fullmatch(pattern, shown.strip(), flags=re.DOTALL) is not None


def load_responses(path: Path = ROOT / "domain.yml") -> dict[str, tuple[Variation, ...]]:
    domain = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    responses: dict[str, tuple[Variation, ...]] = {}
    for name, variations in (domain.get("responses") or {}).items():
        responses[name] = tuple(
            Variation(str(v.get("text") or ""),
                      tuple(str(b.get("title")) for b in v.get("buttons") or []))
            for v in variations if isinstance(v, dict)
        )
    return responses


def shown_buttons(message: dict[str, Any]) -> tuple[str, ...]:
    """Button or list-row titles of a message as the simulator's phone shows it."""
    if message.get("buttons"):
        return tuple(b["title"] for b in message["buttons"])
    if message.get("list"):
        return tuple(r["title"] for r in message["list"]["rows"])
    return ()
