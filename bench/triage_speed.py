"""Issue 2, in this process, before the stack starts: model load time (``Triager``
construction) and triage throughput (held-out texts through ``Triager.read``)."""

from __future__ import annotations

import gc
import logging
import random
import time
from pathlib import Path
from typing import Any

from triage.labelled import read_tree
from triage.levels import load_triage_map

ROOT = Path(__file__).resolve().parent.parent


def varied_texts(count: int, seed: int = 7) -> list[str]:
    """``count`` held-out messages (all intents mixed, cycled if the set is smaller)."""
    texts = [m.text for m in read_tree(ROOT / "tests" / "nlu" / "evaluacion", load_triage_map())]
    random.Random(seed).shuffle(texts)
    return [texts[i % len(texts)] for i in range(count)]


async def run(model: Path, messages: int = 500, loads: int = 2, warmup: int = 5) -> dict[str, Any]:
    logging.getLogger().setLevel(logging.WARNING)
    started = time.perf_counter()
    import rasa.core.agent  # noqa: F401  (Rasa + TensorFlow import, timed on its own)

    from triage.cli import Triager

    import_seconds = time.perf_counter() - started

    load_seconds = []
    triager = None
    for _ in range(max(1, loads)):
        triager = None
        gc.collect()
        started = time.perf_counter()
        triager = Triager(model)
        load_seconds.append(time.perf_counter() - started)

    texts = varied_texts(messages)
    started = time.perf_counter()
    await triager.read("hola")
    first_read = time.perf_counter() - started
    for text in texts[:warmup]:
        await triager.read(text)

    per_message = []
    started = time.perf_counter()
    for text in texts:
        one = time.perf_counter()
        await triager.read(text)
        per_message.append(time.perf_counter() - one)
    total = time.perf_counter() - started

    del triager
    gc.collect()
    return {
        "import_seconds": import_seconds,
        "load_seconds": load_seconds,
        "first_read_seconds": first_read,
        "warmup_reads": warmup,
        "messages": len(texts),
        "total_seconds": total,
        "messages_per_second": len(texts) / total if total else None,
        "per_message_seconds": per_message,
    }
