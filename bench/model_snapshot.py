"""A private copy of the model for one bench run: other jobs on this machine may retrain
models/asistente.tar.gz while the bench runs; every measurement here uses the same file."""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any


def snapshot(model: Path, attempts: int = 3, wait: float = 5.0) -> tuple[Path, dict[str, Any]]:
    """Copy ``model`` to a temp dir and check it is a complete archive (retry if it was
    being rewritten). Returns the copy and its identity (size, mtime, sha256)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-model-"))
    copy = folder / model.name
    for attempt in range(attempts):
        before = model.stat()
        shutil.copy2(model, copy)
        try:
            with tarfile.open(copy, "r:gz") as archive:
                archive.getmembers()
            if model.stat().st_mtime == before.st_mtime:
                break
        except (tarfile.TarError, EOFError, OSError):
            pass
        if attempt == attempts - 1:
            raise RuntimeError(f"could not take a complete copy of {model}")
        time.sleep(wait)
    digest = hashlib.sha256(copy.read_bytes()).hexdigest()
    return copy, {"path": str(model), "bytes": copy.stat().st_size,
                  "mtime": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(before.st_mtime)),
                  "sha256": digest[:16]}


def discard(copy: Path) -> None:
    shutil.rmtree(copy.parent, ignore_errors=True)
