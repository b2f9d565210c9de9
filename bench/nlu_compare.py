"""One comparison, one run: the shipped model against two classic readers, on the EVALUATION set.

Readers: the shipped Rasa model (models/asistente.tar.gz, read exactly as the service reads),
TF-IDF + logistic regression trained in this run on the same data/nlu (level from the intent
alone), and a keyword list. Prints the five figures, the level confusion of each reader, the
figures per author (evaluation voice), and writes results/nlu/comparacion.json and a chart
results/nlu/comparacion.png. ``--ablation`` adds the ablation table: the shipped model re-read
without each part (immediacy, «wants a person», the «more dangerous reading» floors, each
safety-net rule), on the validation set (where parts earn their place) and on the evaluation set.

    .venv/bin/python -m bench.nlu_compare [--model models/asistente.tar.gz] [--ablation]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from components.safety_net import RULES
from triage.baselines import KeywordBaseline, TfidfBaseline
from triage.evaluation import (
    HEADLINE,
    Scored,
    figures,
    figures_by_source,
    fmt,
    misreadings,
    score,
)
from triage.labelled import Labelled, read_tree
from triage.levels import LEVELS, Assessment, TriageMap, load_triage_map
from triage.replay import ablations, reread_all

ROOT = Path(__file__).resolve().parent.parent
TRAINING = ROOT / "data" / "nlu"
EVALUATION = ROOT / "tests" / "nlu" / "evaluacion"
VALIDATION = ROOT / "tests" / "nlu" / "validacion"
MODEL = ROOT / "models" / "asistente.tar.gz"
OUT = ROOT / "results" / "nlu"
SHIPPED, TFIDF, KEYWORDS = "modelo del proyecto", "TF-IDF + regresión logística", "palabras clave"


async def model_parses(model: Path, messages: Sequence[Labelled]) -> list[dict[str, Any]]:
    from triage.cli import Triager

    triager = Triager(model)
    return [await triager.parse(m.text) for m in messages]


def shipped_readings(parses: Sequence[dict[str, Any]], triage_map: TriageMap) -> list[Assessment]:
    """Exactly what the service reads: the NLU's own triage reading of each parse."""
    return [triage_map.reading_of(p) for p in parses]


def baseline_rows(triage_map: TriageMap, messages: Sequence[Labelled]
                  ) -> dict[str, list[Scored]]:
    texts = [m.text for m in messages]
    started = time.perf_counter()
    tfidf = TfidfBaseline(triage_map).fit(read_tree(TRAINING, triage_map))
    print(f"[nlu] TF-IDF entrenado en {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return {TFIDF: score(messages, tfidf.read(texts), triage_map),
            KEYWORDS: score(messages, KeywordBaseline(triage_map).read(texts), triage_map)}


def table(results: dict[str, dict[str, Any]]) -> str:
    names = [name for _, name in HEADLINE]
    width = max(len(n) for n in results) + 2
    lines = [f"{'':<{width}}" + " | ".join(names)]
    for reader, f in results.items():
        lines.append(f"{reader:<{width}}" + " | ".join(
            f"{fmt(f[key]):>{len(name)}}" for key, name in HEADLINE))
    return "\n".join(lines)


def confusion_text(f: dict[str, Any]) -> str:
    head = "real \\ leído  " + " ".join(f"{level:>9}" for level in LEVELS)
    rows = [f"{gold:<13} " + " ".join(f"{f['confusion'][gold][read]:>9}" for read in LEVELS)
            for gold in LEVELS]
    return "\n".join([head, *rows])


def chart(results: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [name for _, name in HEADLINE]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(results)
    for i, (reader, f) in enumerate(results.items()):
        xs = [j + i * width for j in range(len(labels))]
        ax.bar(xs, [f[key] or 0.0 for key, _ in HEADLINE], width, label=reader)
    ax.set_xticks([j + width * (len(results) - 1) / 2 for j in range(len(labels))])
    ax.set_xticklabels([label.replace(" (", "\n(").replace(", ", ",\n") for label in labels],
                       fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title("Conjunto de evaluación (autoras que no escribieron el entrenamiento)")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def ablation_table(triage_map: TriageMap, messages: Sequence[Labelled],
                   parses: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a.name: figures(score(messages, reread_all(parses, triage_map, a), triage_map))
            for a in ablations(list(RULES))}


def compare(model: Path, with_ablation: bool = False) -> dict[str, Any]:
    """Every figure of the comparison; also used by the gate of `make test`."""
    triage_map = load_triage_map()
    messages = read_tree(EVALUATION, triage_map)
    parses = asyncio.run(model_parses(model, messages))
    rows = {SHIPPED: score(messages, shipped_readings(parses, triage_map), triage_map)}
    rows.update(baseline_rows(triage_map, messages))
    report: dict[str, Any] = {
        "evaluation_messages": len(messages),
        "readers": {name: figures(r) for name, r in rows.items()},
        "by_author": figures_by_source(rows[SHIPPED]),
        "errors": misreadings(rows[SHIPPED]),
    }
    if with_ablation:
        validation = read_tree(VALIDATION, triage_map)
        val_parses = asyncio.run(model_parses(model, validation))
        report["ablation"] = {
            "validacion": ablation_table(triage_map, validation, val_parses),
            "evaluacion": ablation_table(triage_map, messages, parses),
        }
    return report


def print_report(report: dict[str, Any]) -> None:
    print(f"Conjunto de evaluación: {report['evaluation_messages']} mensajes "
          "(tests/nlu/evaluacion/, autoras que no escribieron entrenamiento ni validación)\n")
    print(table(report["readers"]))
    for reader, f in report["readers"].items():
        print(f"\n{reader}: niveles (filas: real; columnas: leído)\n{confusion_text(f)}")
    print("\nModelo del proyecto, por autora de evaluación:")
    print(table(report["by_author"]))
    for set_name, rows in (report.get("ablation") or {}).items():
        print(f"\nAblación ({set_name}): el modelo sin cada parte")
        print(table(rows))


def write(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    body = {k: v for k, v in report.items() if k != "errors"}
    (out / "comparacion.json").write_text(json.dumps(body, indent=2, ensure_ascii=False),
                                          encoding="utf-8")
    (out / "errors.json").write_text(json.dumps(report["errors"], indent=2, ensure_ascii=False),
                                     encoding="utf-8")
    chart(report["readers"], out / "comparacion.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--ablation", action="store_true")
    args = parser.parse_args(argv)
    report = compare(args.model, args.ablation)
    write(report, args.out)
    print_report(report)
    print(f"\nGráfico: {args.out / 'comparacion.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
