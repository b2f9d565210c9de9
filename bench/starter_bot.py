"""Rasa's own starter bot (``rasa init --no-prompt``), trained once and cached under
build/starter_bot/, served on its REST channel: the baseline of the closed-loop ratio."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import rasa

from stack.children import Child, spawn

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "starter_bot" / rasa.__version__
SCRIPT = ["hello", "I am sad", "yes", "bye"]


def trained_project(log: Path) -> Path:
    """The starter project with its trained model (made once: ~2 min)."""
    if list((CACHE / "models").glob("*.tar.gz")):
        return CACHE
    shutil.rmtree(CACHE, ignore_errors=True)
    CACHE.mkdir(parents=True)
    with open(log, "ab") as out:
        subprocess.run([sys.executable, "-m", "stack.quiet", "rasa", "init", "--no-prompt",
                        "--init-dir", str(CACHE)], cwd=ROOT, stdout=out,
                       stderr=subprocess.STDOUT, check=True)
    if not list((CACHE / "models").glob("*.tar.gz")):
        raise RuntimeError(f"rasa init trained no model; see {log}")
    return CACHE


def start(project: Path, port: int, env: dict[str, str], log_dir: Path) -> Child:
    model = sorted((project / "models").glob("*.tar.gz"))[-1]
    return spawn("starter-bot", [sys.executable, "-m", "stack.quiet", "rasa", "run",
                                 "--model", str(model), "--interface", "127.0.0.1",
                                 "--port", str(port), "--credentials",
                                 str(project / "credentials.yml"), "--endpoints",
                                 str(project / "endpoints.yml")],
                 cwd=project, env=env, log_dir=log_dir)
