"""Labelled messages in Rasa's NLU format, with the two extra axes as intent metadata.

Trainers and evaluation authors write ordinary Rasa NLU YAML. A block may carry
``metadata: {inmediatez: ahora|pasado|ninguna, pide_persona: true|false}``; without it the
defaults of the intent's level apply (emergency kinds: ahora; violence: pasado; the rest:
ninguna; pide_persona only for ``pedir_persona``). Used by the NLU component (training), the
evaluation, the baselines and the gate: one reader for all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from triage.levels import PERSON_INTENT, Assessment, Immediacy, Signals, TriageMap

IMMEDIACY_KEY = "inmediatez"
PERSON_KEY = "pide_persona"
_DEFAULT_IMMEDIACY = {"emergency": Immediacy.NOW, "risk": Immediacy.PAST}


@dataclass(frozen=True)
class Labelled:
    """One message with its gold reading. ``source`` is the file's stem (the author's voice)."""

    text: str
    kind: str
    immediacy: Immediacy
    wants_person: bool
    source: str = ""


def default_immediacy(kind: str, triage_map: TriageMap) -> Immediacy:
    return _DEFAULT_IMMEDIACY.get(triage_map.rule_for(kind).level, Immediacy.NONE)


def labels_from_metadata(
    kind: str, metadata: Mapping[str, Any] | None, triage_map: TriageMap
) -> tuple[Immediacy, bool]:
    """The (immediacy, wants_person) of an example from its block's metadata and defaults."""
    metadata = metadata or {}
    raw = metadata.get(IMMEDIACY_KEY)
    try:
        immediacy = Immediacy(raw) if raw is not None else default_immediacy(kind, triage_map)
    except ValueError:
        raise ValueError(
            f"la intención '{kind}' tiene inmediatez '{raw}'; usa ahora, pasado o ninguna"
        ) from None
    person = metadata.get(PERSON_KEY)
    if person is not None and not isinstance(person, bool):
        raise ValueError(f"la intención '{kind}': pide_persona debe ser true o false")
    return immediacy, bool(person) if person is not None else kind == PERSON_INTENT


def _examples(block: Mapping[str, Any]) -> Iterable[str]:
    raw = block.get("examples") or ""
    if isinstance(raw, str):
        for line in raw.splitlines():
            line = line.strip()
            if line.startswith("- "):
                yield line[2:].strip()
    elif isinstance(raw, list):  # the `- text: …` form
        for item in raw:
            if isinstance(item, Mapping) and item.get("text"):
                yield str(item["text"]).strip()


def read_file(path: Path, triage_map: TriageMap) -> list[Labelled]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    messages = []
    for block in data.get("nlu") or []:
        kind = block.get("intent")
        if not kind:
            continue
        immediacy, person = labels_from_metadata(kind, block.get("metadata"), triage_map)
        messages += [Labelled(text, kind, immediacy, person, path.stem)
                     for text in _examples(block) if text]
    return messages


def read_tree(root: Path, triage_map: TriageMap) -> list[Labelled]:
    """Every labelled message in the .yml files under ``root`` (or ``root`` itself)."""
    paths = [root] if root.is_file() else sorted(root.rglob("*.yml"))
    return [message for path in paths for message in read_file(path, triage_map)]


def gold_reading(message: Labelled, triage_map: TriageMap) -> Assessment:
    """The reading the rules give to the gold labels (the same rule the NLU uses)."""
    signals = Signals(now=1.0 if message.immediacy is Immediacy.NOW else 0.0,
                      person=1.0 if message.wants_person else 0.0)
    return triage_map.assess(message.kind, 1.0, (), signals)
