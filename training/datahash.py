"""The fingerprint of what a model is trained from: data, configuration and NLU code.

SHA-256 over config.yml, domain.yml, every data/**/*.yml, the NLU components and the triage
rules (components/, triage/), plus the Rasa version. Two models with the same fingerprint were
trained from the same inputs (`make train` is deterministic here), so one can stand in for
the other instead of training twice.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INPUTS = ("config.yml", "domain.yml", "data/**/*.yml", "components/**/*.py", "triage/**/*.py")


def input_files(root: Path = ROOT) -> list[Path]:
    found: set[Path] = set()
    for pattern in INPUTS:
        found.update(p for p in root.glob(pattern) if p.is_file() and "__pycache__" not in p.parts)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def data_hash(root: Path = ROOT) -> str:
    """64 hex digits; the first 12 are shown to trainers."""
    from rasa import __version__ as rasa_version

    digest = hashlib.sha256(f"rasa {rasa_version}\n".encode())
    for path in input_files(root):
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def short(value: str | None) -> str:
    return (value or "")[:12] or "–"
