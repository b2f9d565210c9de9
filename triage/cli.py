"""`make -s triage < messages.txt`: one message per line in, one JSON object per line out.

Uses the newest model in models/ (the Makefile trains one first if there is none). The model
is loaded once; Rasa's and TensorFlow's logs go to stderr so stdout carries only JSON lines.

Any input is read: lines are split at ``\n`` and decoded as UTF-8 with invalid bytes (and
encoded surrogates) replaced by U+FFFD; the ``text`` of each output line is that decoded line.
Output is always UTF-8, whatever the locale.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TextIO

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


class Reader(Protocol):
    async def read(self, text: str) -> dict[str, Any]: ...


def input_lines(stream: BinaryIO) -> Iterator[str]:
    """Each line of ``stream`` (bytes), without its ``\n`` / ``\r\n``, decoded as UTF-8 with
    U+FFFD for what is not (a bad byte must not stop the whole file)."""
    for raw in stream:
        yield raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", "replace")


async def run_lines(stream: BinaryIO, out: TextIO, triager: Reader) -> int:
    for line in input_lines(stream):
        result = await triager.read(line)
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
    return 0


async def _run(stream: BinaryIO, out: TextIO, model: Path) -> int:
    return await run_lines(stream, out, Triager(model))


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
    out = io.TextIOWrapper(real_stdout.buffer, encoding="utf-8", newline="\n",
                           write_through=True)
    sys.stdout = sys.stderr
    try:
        return asyncio.run(_run(sys.stdin.buffer, out, model))
    finally:
        out.detach()
        sys.stdout = real_stdout


if __name__ == "__main__":
    sys.exit(main())
