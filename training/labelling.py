"""Labelled review items become training data: data/nlu/revisadas/AAAA-MM.yml.

Each file is ordinary Rasa NLU YAML with the metadata of data/nlu (``inmediatez``,
``pide_persona``; triage/labelled.py reads it), one block per intent and labels, so a trainer
reviews it and commits it like any other training data. A write is atomic (a temporary file
replaced under a lock) and the new content is checked with Rasa's own reader before it
replaces the old one, so the file is always valid.

A label is refused when the message is in the evaluation or validation sets (they measure the
model; training on them would hide its errors) or when the same message is already in the
training data with other labels; a message already there with the same labels is not
written twice.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from enum import Enum
from pathlib import Path

import yaml

from components.text import neutralize_intent_syntax, normalize
from training.redaction import redact
from triage.labelled import IMMEDIACY_KEY, PERSON_KEY, Labelled, read_file
from triage.levels import FALLBACK_INTENT, Immediacy, TriageMap, load_triage_map

ROOT = Path(__file__).resolve().parent.parent
REVIEWED_DIR = ROOT / "data" / "nlu" / "revisadas"
TRAINING_DIR = ROOT / "data" / "nlu"
HELD_OUT_DIRS = (ROOT / "tests" / "nlu" / "evaluacion", ROOT / "tests" / "nlu" / "validacion")
DOMAIN = ROOT / "domain.yml"
MAX_EXAMPLE = 500
HEADER = (
    "# Mensajes reales revisados en la consola (cola de revisión), ya sin datos personales.\n"
    "# Generado por la consola: revisa cada ejemplo antes de hacer commit (ver README.md).\n"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class LabelError(ValueError):
    """A label that cannot be written; the message says why, in Spanish."""


class WriteResult(str, Enum):
    WRITTEN = "escrito"
    ALREADY_THERE = "ya_estaba"


@dataclass(frozen=True)
class Label:
    intent: str
    immediacy: Immediacy
    wants_person: bool


@dataclass(frozen=True)
class IntentChoice:
    name: str
    level: str
    description: str


def intent_choices(triage_path: Path | None = None, domain: Path = DOMAIN) -> list[IntentChoice]:
    """The intents a trainer may choose (data/triage.yml order), with their descriptions."""
    from triage.levels import triage_path as default_triage_path

    raw = yaml.safe_load((triage_path or default_triage_path()).read_text(encoding="utf-8"))
    known = set(yaml.safe_load(domain.read_text(encoding="utf-8")).get("intents") or [])
    return [IntentChoice(name, str(spec.get("nivel")), str(spec.get("descripcion") or ""))
            for name, spec in (raw.get("intenciones") or {}).items()
            if name != FALLBACK_INTENT and name in known]


def clean_example(text: str) -> str:
    """One line Rasa reads as plain text: no control characters, no entity or intent syntax,
    and redacted once more (a trainer may have edited it)."""
    text = _CONTROL.sub(" ", text or "")
    text = text.replace("[", "(").replace("]", ")").replace("{", "(").replace("}", ")")
    text = neutralize_intent_syntax(" ".join(text.split()))
    return redact(text)[:MAX_EXAMPLE].strip()


def _key(label: Label) -> tuple[str, str, bool]:
    return label.intent, label.immediacy.value, label.wants_person


def render(groups: dict[tuple[str, str, bool], list[str]], order: Sequence[str]) -> str:
    """The YAML text of one month's file."""
    rank = {name: i for i, name in enumerate(order)}
    lines = [HEADER.rstrip("\n"), 'version: "3.1"', "nlu:"]
    for (intent, immediacy, person), examples in sorted(
            groups.items(), key=lambda kv: (rank.get(kv[0][0], len(rank)), kv[0])):
        if not examples:
            continue
        lines += [f"- intent: {intent}", "  metadata:", f"    {IMMEDIACY_KEY}: {immediacy}",
                  f"    {PERSON_KEY}: {'true' if person else 'false'}", "  examples: |"]
        lines += [f"    - {example}" for example in examples]
    return "\n".join(lines) + "\n"


def _check_rasa_reads(content: str) -> None:
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    yaml.safe_load(content)
    RasaYAMLReader().reads(content)


class ReviewedWriter:
    """Writes labelled messages into ``directory`` (one file per month)."""

    def __init__(self, directory: Path = REVIEWED_DIR, training_dir: Path = TRAINING_DIR,
                 held_out: Iterable[Path] = HELD_OUT_DIRS,
                 triage_map: TriageMap | None = None) -> None:
        self.directory = directory
        self._training_dir = training_dir
        self._held_out = tuple(held_out)
        self._triage = triage_map or load_triage_map()
        self._indexes: dict[str, tuple[tuple[tuple[str, int], ...], dict[str, Labelled]]] = {}

    def month_file(self, day: date) -> Path:
        return self.directory / f"{day:%Y-%m}.yml"

    def _index(self, folder: Path) -> dict[str, Labelled]:
        """normalised text → labelled message of every .yml under ``folder`` (cached until a
        file changes: a label is saved in milliseconds, not in the seconds a full read takes)."""
        if not folder.exists():
            return {}
        files = tuple((str(p), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*.yml")))
        cached = self._indexes.get(str(folder))
        if cached is None or cached[0] != files:
            index: dict[str, Labelled] = {}
            for path, _mtime in files:
                for message in read_file(Path(path), self._triage):
                    index.setdefault(normalize(message.text), message)
            cached = self._indexes[str(folder)] = (files, index)
        return cached[1]

    def check(self, text: str, label: Label) -> WriteResult | None:
        """Raise LabelError when the label must not be written; ALREADY_THERE when it is."""
        if label.intent not in self._triage.rules or label.intent == FALLBACK_INTENT:
            raise LabelError(f"la intención «{label.intent}» no existe en data/triage.yml")
        if not text:
            raise LabelError("el mensaje quedó vacío")
        wanted = normalize(text)
        for folder in self._held_out:
            if wanted in self._index(folder):
                raise LabelError("este mensaje está en los conjuntos de evaluación o validación "
                                 f"({folder.name}): no se puede usar para entrenar")
        known = self._index(self._training_dir).get(wanted)
        if known is None:
            return None
        if (known.kind, known.immediacy, known.wants_person) == (
                label.intent, label.immediacy, label.wants_person):
            return WriteResult.ALREADY_THERE
        raise LabelError(
            f"este mensaje ya está en los datos ({known.source}.yml) como «{known.kind}», "
            f"inmediatez {known.immediacy.value}: corrígelo allí o elige lo mismo")

    def write(self, text: str, label: Label, day: date) -> WriteResult:
        example = clean_example(text)
        with self._locked():
            if self.check(example, label) is WriteResult.ALREADY_THERE:
                return WriteResult.ALREADY_THERE
            path = self.month_file(day)
            groups: dict[tuple[str, str, bool], list[str]] = {}
            if path.exists():
                for message in read_file(path, self._triage):
                    groups.setdefault((message.kind, message.immediacy.value,
                                       message.wants_person), []).append(message.text)
            groups.setdefault(_key(label), []).append(example)
            content = render(groups, list(self._triage.rules))
            _check_rasa_reads(content)
            _atomic_write(path, content)
        return WriteResult.WRITTEN

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".escritura.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _atomic_write(path: Path, content: str) -> None:
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp",
                                             dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
