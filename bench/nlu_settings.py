"""Choose NLU settings by measurement: train each variant in bench/nlu_settings/*.yml
(NLU only), evaluate it on the held-out set, and print training time and figures.

    .venv/bin/python -m bench.nlu_settings [variant ...]

Slow (minutes per variant): not part of `make test` or `make bench`.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.tools.nlu_gate import _predict, evaluate, load_heldout

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ROOT / "bench" / "nlu_settings"


def run_variant(config: Path) -> dict:
    out = Path(tempfile.mkdtemp(prefix="nlu-variant-"))
    started = time.perf_counter()
    subprocess.run(
        [str(ROOT / ".venv/bin/rasa"), "train", "nlu", "--config", str(config),
         "--out", str(out), "--fixed-model-name", config.stem],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    rows = asyncio.run(_predict(out / f"{config.stem}.tar.gz", load_heldout()))
    figures = evaluate(rows)
    figures["train_seconds"] = round(seconds, 1)
    return figures


def main(names: list[str]) -> int:
    configs = sorted(VARIANTS.glob("*.yml"))
    if names:
        configs = [c for c in configs if c.stem in names]
    print(f"{'variant':<24} {'train s':>8} {'emerg R':>8} {'handoff R':>9} {'F1 lvl':>7} {'F1 int':>7}")
    for config in configs:
        f = run_variant(config)
        print(f"{config.stem:<24} {f['train_seconds']:>8} {f['emergency_recall']:>8.3f} "
              f"{f['handoff_recall']:>9.3f} {f['macro_f1_levels']:>7.3f} {f['macro_f1_intents']:>7.3f}",
              flush=True)
        (ROOT / "results").mkdir(exist_ok=True)
        (ROOT / "results" / f"nlu_{config.stem}.json").write_text(json.dumps(f, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
