"""`make -s triage < messages.txt`: one message per line in, one JSON object per line out.

Uses the newest model in models/ (the Makefile trains one first if there is none). The model
is loaded once; Rasa's and TensorFlow's logs go to stderr so stdout carries only JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any, TextIO

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
# Rasa's dependencies print hundreds of deprecation warnings on import: they hide the output
# a trainer needs to read (the warnings are about library internals, not about this project).
warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=PendingDeprecationWarning)

from components.text import neutralize_intent_syntax  # noqa: E402
from triage.levels import Assessment, TriageMap, load_triage_map  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def newest_model(models_dir: Path) -> Path:
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise FileNotFoundError(f"no hay modelos en {models_dir}: ejecuta `make train`")
    return models[-1]


class Triager:
    """Loads a Rasa model once and reads messages with the project's triage rules."""

    def __init__(self, model_path: Path, triage_map: TriageMap | None = None) -> None:
        from rasa.core.agent import Agent
        from rasa.utils.log_utils import configure_structlog

        configure_structlog(logging.WARNING)  # Rasa's debug logs would carry message text
        self._agent = Agent.load(str(model_path))
        self._triage = triage_map or load_triage_map()

    async def parse(self, text: str) -> dict[str, Any]:
        """Rasa's parse data for one message (intent syntax neutralised)."""
        return await self._agent.parse_message(neutralize_intent_syntax(text.rstrip("\r\n")))

    async def reading(self, text: str) -> Assessment:
        """The project's triage reading of one message (empty text: the fallback's)."""
        clean = neutralize_intent_syntax(text.rstrip("\r\n"))
        if not clean.strip():
            return self._triage.assess(None, 0.0)
        parsed = await self._agent.parse_message(clean)
        # the NLU's own reading, or the same rule if the model lacks the TriageLevel component
        return self._triage.reading_of(parsed)

    async def read(self, text: str) -> dict[str, Any]:
        """One JSON line of `make -s triage`."""
        reading = await self.reading(text)
        return {
            "text": text,
            "intent": reading.intent,
            "confidence": round(float(reading.confidence), 4),
            "level": reading.level,
            "handoff": reading.handoff,
            "kind": reading.kind,
            "immediacy": reading.immediacy,
            "wants_person": reading.wants_person,
        }


async def _run(stream: TextIO, out: TextIO, model: Path) -> int:
    triager = Triager(model)
    for line in stream:
        result = await triager.read(line.rstrip("\r\n"))
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=None, help="modelo (por defecto: el más nuevo)")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    try:
        model = args.model or newest_model(PROJECT_ROOT / "models")
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    # Rasa and TensorFlow may print to stdout while loading: keep stdout for JSON only.
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        return asyncio.run(_run(sys.stdin, real_stdout, model))
    finally:
        sys.stdout = real_stdout


if __name__ == "__main__":
    sys.exit(main())
