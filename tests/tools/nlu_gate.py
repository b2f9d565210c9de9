"""The NLU gate of `make test`, on the EVALUATION set (tests/nlu/evaluacion/).

The evaluation messages were written by authors whose lines never enter training
(data/nlu/) or validation (tests/nlu/validacion/, where the floors are chosen). The trained
model reads them exactly as the service does, next to a TF-IDF + logistic regression baseline
trained in the same run on the same data/nlu. The suite fails when:

- emergency recall < 0.95 (danger-now messages read as emergency);
- danger handed off < 0.98 (emergency and risk messages handed to a person);
- calm handed off > 0.08 (messages that need no person, handed off);
- asks for a person, handed off < 0.90;
- macro F1 over levels is not above the TF-IDF baseline's in this run.

Writes results/nlu/comparacion.json, results/nlu/errors.json (every misread message: what it
says, how it was read) and results/nlu/comparacion.png.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bench.nlu_compare import MODEL, OUT, SHIPPED, TFIDF, compare, print_report, write

MINIMUMS = {"emergency_recall": 0.95, "danger_handed_off": 0.98, "person_handed_off": 0.90}
MAXIMUMS = {"calm_handed_off": 0.08}
NAMES = {
    "emergency_recall": "emergencias leídas como emergencia",
    "danger_handed_off": "peligro derivado a una especialista",
    "person_handed_off": "piden una persona y se derivan",
    "calm_handed_off": "mensajes tranquilos derivados",
}


def gate_failures(readers: dict[str, dict[str, Any]]) -> list[str]:
    """Spanish lines, one per failed condition (empty: the model passes)."""
    ours, baseline = readers[SHIPPED], readers[TFIDF]
    failures = []
    for key, minimum in MINIMUMS.items():
        if ours[key] is None or ours[key] < minimum:
            failures.append(f"{NAMES[key]}: {ours[key]:.3f} < {minimum}")
    for key, maximum in MAXIMUMS.items():
        if ours[key] is None or ours[key] > maximum:
            failures.append(f"{NAMES[key]}: {ours[key]:.3f} > {maximum}")
    if (ours["macro_f1_levels"] or 0.0) <= (baseline["macro_f1_levels"] or 0.0):
        failures.append(f"F1 macro por nivel {ours['macro_f1_levels']:.3f} no supera al de "
                        f"TF-IDF + regresión logística ({baseline['macro_f1_levels']:.3f})")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    report = compare(args.model)
    write(report, args.out)
    print_report(report)
    failures = gate_failures(report["readers"])
    for failure in failures:
        print(f"✗ NLU: {failure}")
    if failures:
        print(f"Revisa los mensajes mal leídos en {args.out / 'errors.json'}")
    else:
        print("✓ NLU: el modelo pasa todas las metas en el conjunto de evaluación")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
