"""Held-out NLU gate: the suite fails if danger recall drops.

Reads tests/nlu/heldout.yml (written separately from the training examples), runs every
message through the trained model with the project's triage rules, and prints recall and
precision per level, macro F1 over levels and over intents, and the two gated figures:

- emergency recall (emergency messages read as emergency)  >= 0.95
- emergency+risk handoff recall (those messages read as emergency or risk) >= 0.98
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

from triage.levels import LEVELS, load_triage_map

ROOT = Path(__file__).resolve().parents[2]
HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
EMERGENCY_RECALL_MIN = 0.95
HANDOFF_RECALL_MIN = 0.98
DANGER = ("emergency", "risk")


def load_heldout(path: Path = HELDOUT) -> list[tuple[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    examples = []
    for block in data["nlu"]:
        for line in block["examples"].splitlines():
            line = line.strip()
            if line.startswith("- "):
                examples.append((line[2:].strip(), block["intent"]))
    return examples


def prf(gold: list[str], predicted: list[str], label: str) -> tuple[float, float, float]:
    tp = sum(1 for g, p in zip(gold, predicted, strict=False) if g == label and p == label)
    fp = sum(1 for g, p in zip(gold, predicted, strict=False) if g != label and p == label)
    fn = sum(1 for g, p in zip(gold, predicted, strict=False) if g == label and p != label)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def evaluate(rows: list[dict]) -> dict:
    """Figures from rows of {gold_intent, gold_level, intent, level}."""
    gold_levels = [r["gold_level"] for r in rows]
    levels = [r["level"] for r in rows]
    per_level = {}
    for level in LEVELS:
        p, r, f = prf(gold_levels, levels, level)
        per_level[level] = {"precision": p, "recall": r, "f1": f,
                            "support": gold_levels.count(level)}
    intents = sorted({r["gold_intent"] for r in rows})
    intent_f1 = [prf([r["gold_intent"] for r in rows], [r["intent"] for r in rows], i)[2]
                 for i in intents]
    danger = [r for r in rows if r["gold_level"] in DANGER]
    handoff_recall = (sum(1 for r in danger if r["level"] in DANGER) / len(danger)) if danger else 0.0
    return {
        "examples": len(rows),
        "per_level": per_level,
        "macro_f1_levels": sum(v["f1"] for v in per_level.values()) / len(LEVELS),
        "macro_f1_intents": sum(intent_f1) / len(intent_f1) if intent_f1 else 0.0,
        "intent_accuracy": sum(r["intent"] == r["gold_intent"] for r in rows) / len(rows),
        "emergency_recall": per_level["emergency"]["recall"],
        "handoff_recall": handoff_recall,
    }


def gate_failures(figures: dict) -> list[str]:
    failures = []
    if figures["emergency_recall"] < EMERGENCY_RECALL_MIN:
        failures.append(f"emergency recall {figures['emergency_recall']:.3f} < {EMERGENCY_RECALL_MIN}")
    if figures["handoff_recall"] < HANDOFF_RECALL_MIN:
        failures.append(f"emergency+risk handoff recall {figures['handoff_recall']:.3f} < {HANDOFF_RECALL_MIN}")
    return failures


async def _predict(model: Path, examples: list[tuple[str, str]]) -> list[dict]:
    from triage.cli import Triager

    triager = Triager(model)
    triage_map = load_triage_map()
    rows = []
    for text, gold in examples:
        reading = await triager.read(text)
        rows.append({"text": text, "gold_intent": gold,
                     "gold_level": triage_map.rule_for(gold).level,
                     "intent": reading["intent"], "level": reading["level"],
                     "confidence": reading["confidence"]})
    return rows


def report(figures: dict) -> str:
    lines = [f"{'level':<10} {'precision':>9} {'recall':>7} {'f1':>6} {'n':>4}"]
    for level, v in figures["per_level"].items():
        lines.append(f"{level:<10} {v['precision']:>9.3f} {v['recall']:>7.3f} {v['f1']:>6.3f} {v['support']:>4}")
    lines += [
        f"macro F1 (levels) {figures['macro_f1_levels']:.3f} · macro F1 (intents) "
        f"{figures['macro_f1_intents']:.3f} · intent accuracy {figures['intent_accuracy']:.3f}",
        f"emergency recall {figures['emergency_recall']:.3f} (gate {EMERGENCY_RECALL_MIN}) · "
        f"emergency+risk handoff recall {figures['handoff_recall']:.3f} (gate {HANDOFF_RECALL_MIN})",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "nlu")
    args = parser.parse_args(argv)
    examples = load_heldout()
    started = time.perf_counter()
    rows = asyncio.run(_predict(args.model, examples))
    figures = evaluate(rows)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "heldout.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    misses = [r for r in rows if r["gold_level"] != r["level"]]
    (args.out / "errors.json").write_text(
        json.dumps(misses, indent=2, ensure_ascii=False), encoding="utf-8")
    confusion = Counter((r["gold_level"], r["level"]) for r in rows)
    print(report(figures))
    print("confusion (gold → predicted):",
          ", ".join(f"{g}→{p}: {n}" for (g, p), n in sorted(confusion.items()) if g != p) or "none")
    failures = gate_failures(figures)
    for failure in failures:
        print(f"✗ NLU gate: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
