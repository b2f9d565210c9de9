"""Choose the floors of data/triage.yml on the VALIDATION set only (tests/nlu/validacion/).

The model reads every validation message once; then every combination of floors in the grid
re-reads the stored parse data (triage/replay.py). A combination is acceptable when, on the
validation set, emergency recall ≥ 0.97, danger handed off ≥ 0.985, calm handed off ≤ 0.05 and
asks-for-a-person handed off ≥ 0.95 (stricter than the gate of `make test`, which is measured
on the evaluation set); among those, the highest macro F1 over levels wins. The evaluation set
is never read here.

    .venv/bin/python -m bench.triage_floors [--model models/asistente.tar.gz]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from triage.evaluation import HEADLINE, figures, fmt, score
from triage.labelled import Labelled, read_tree
from triage.levels import TriageMap, load_triage_map
from triage.replay import reread_all, with_floors

ROOT = Path(__file__).resolve().parent.parent
VALIDATION = ROOT / "tests" / "nlu" / "validacion"
GRID: dict[str, tuple[float, ...]] = {
    "emergency": (0.2, 0.3, 0.4, 0.5),
    "risk": (0.1, 0.2, 0.3, 0.4),
    "ahora": (0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    "ahora_sin_violencia": (0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    "pide_persona": (0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
}
TARGETS = {"emergency_recall": 0.97, "danger_handed_off": 0.985, "person_handed_off": 0.95}
CALM_MAX = 0.05


def acceptable(f: Mapping[str, Any]) -> bool:
    return all((f[k] or 0.0) >= v for k, v in TARGETS.items()) and \
        (f["calm_handed_off"] or 0.0) <= CALM_MAX


def _rank_key(f: Mapping[str, Any]) -> tuple:
    shortfall = sum(max(0.0, v - (f[k] or 0.0)) for k, v in TARGETS.items()) + \
        max(0.0, (f["calm_handed_off"] or 0.0) - CALM_MAX)
    return (acceptable(f), -round(shortfall, 4), f["macro_f1_levels"] or 0.0,
            -(f["calm_handed_off"] or 0.0))


def search(messages: Sequence[Labelled], parses: Sequence[Mapping[str, Any]],
           triage_map: TriageMap, grid: Mapping[str, Sequence[float]] = GRID, passes: int = 3
           ) -> tuple[dict[str, float], dict[str, Any]]:
    """The best floors on (messages, parses) and their figures.

    Coordinate search: each floor in turn tries every value of its grid with the others
    fixed, for a few passes (a full product of the grid would take hours on 2 cores).
    """

    def evaluate(floors: dict[str, float]) -> tuple[tuple, dict[str, Any]]:
        candidate = with_floors(triage_map, floors)
        f = figures(score(messages, reread_all(parses, candidate), candidate), with_kinds=False)
        return _rank_key(f), f

    current = {key: float(triage_map.floors.get(key, values[len(values) // 2]))
               for key, values in grid.items()}
    best_key, _ = evaluate(current)
    for _ in range(passes):
        changed = False
        for key, values in grid.items():
            for value in values:
                trial = {**current, key: value}
                trial_key, _ = evaluate(trial)
                if trial_key > best_key:
                    best_key, current, changed = trial_key, trial, True
        if not changed:
            break
    final = with_floors(triage_map, current)
    return current, figures(score(messages, reread_all(parses, final), final))


async def parse_all(model: Path, texts: Sequence[str]) -> list[dict[str, Any]]:
    from triage.cli import Triager

    triager = Triager(model)
    return [await triager.parse(text) for text in texts]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "asistente.tar.gz")
    args = parser.parse_args(argv)
    triage_map = load_triage_map()
    messages = read_tree(VALIDATION, triage_map)
    parses = asyncio.run(parse_all(args.model, [m.text for m in messages]))
    current = figures(score(messages, reread_all(parses, triage_map), triage_map))
    floors, best = search(messages, parses, triage_map)
    print(f"validación: {len(messages)} mensajes")
    for label, f in (("umbrales actuales", current), ("umbrales elegidos", best)):
        print(f"  {label:<18} " + " · ".join(f"{name} {fmt(f[key])}" for key, name in HEADLINE))
    print("acepta las metas:", "sí" if acceptable(best) else "NO (la más cercana)")
    print("umbrales:\n" + "\n".join(f"  {k}: {v}" for k, v in floors.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
