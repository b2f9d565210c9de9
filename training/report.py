"""What `make entrenar` tells the trainer: in the terminal and as results/entrenamiento/…/informe.md
with a chart (informe.png), in Spanish."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from triage.evaluation import HEADLINE, fmt
from triage.levels import LEVELS

LEVEL_NAMES = {"emergency": "emergencia", "risk": "riesgo", "info": "información",
               "other": "conversación"}
SHOWN_CHANGES = 25


def _arrow(before: float | None, after: float | None) -> str:
    if before is None:
        return fmt(after)
    delta = (after or 0.0) - (before or 0.0)
    return f"{fmt(before)} → {fmt(after)} ({delta:+.3f})"


def level_table(record: Mapping[str, Any]) -> list[str]:
    served, candidate = record.get("servido"), record["candidato"]
    lines = ["| nivel | recall (servido → candidato) | precisión (servido → candidato) | mensajes |",
             "| --- | --- | --- | --- |"]
    for level in LEVELS:
        now = candidate["per_level"][level]
        before = served["per_level"][level] if served else {}
        lines.append(f"| {LEVEL_NAMES[level]} | {_arrow(before.get('recall'), now['recall'])} | "
                     f"{_arrow(before.get('precision'), now['precision'])} | {now['support']} |")
    return lines


def headline_table(record: Mapping[str, Any]) -> list[str]:
    served, candidate = record.get("servido"), record["candidato"]
    lines = ["| cifra | servido → candidato |", "| --- | --- |"]
    for key, name in HEADLINE:
        lines.append(f"| {name} | {_arrow(served[key] if served else None, candidate[key])} |")
    return lines


def _change_line(change: Mapping[str, Any]) -> str:
    mark = {"mejor": "✓ mejor", "peor": "✗ peor", "igual": "· igual"}[change["cambio"]]
    before, after, real = change["antes"], change["ahora"], change["real"]
    return (f"{mark} [{change['conjunto']}/{change['autora']}] «{change['texto']}»: "
            f"{before['tipo']} ({LEVEL_NAMES.get(before['nivel'], before['nivel'])}"
            f"{', deriva' if before['deriva'] else ''}) → {after['tipo']} "
            f"({LEVEL_NAMES.get(after['nivel'], after['nivel'])}"
            f"{', deriva' if after['deriva'] else ''}); debía ser {real['tipo']}")


def _margins(record: Mapping[str, Any]) -> list[str]:
    lines = []
    names = {"emergency_recall": "emergencias leídas como emergencia",
             "calm_handed_off": "mensajes tranquilos derivados"}
    for key, diff in (record.get("diferencias") or {}).items():
        lines.append(f"- {names[key]}: {fmt(diff['servido'])} → {fmt(diff['candidato'])} "
                     f"({diff['diferencia']:+.3f}; ruido ±{diff['margen']:.3f})")
    return lines


def summary_lines(record: Mapping[str, Any]) -> list[str]:
    """The comparison as the terminal shows it (Markdown tables read fine there too)."""
    trained = record.get("entrenamiento") or {}
    lines = [f"Candidato {record['nombre']} (huella de los datos {record['huella_datos'][:12]})"]
    if trained.get("reutilizado_de"):
        took = trained.get("segundos_originales")
        lines.append(f"Entrenamiento: no hizo falta, los datos no cambiaron desde "
                     f"{trained['reutilizado_de']} (se reutiliza"
                     + (f"; ese entrenamiento tomó {took:.0f} s)" if took else ")"))
    else:
        lines.append(f"Entrenamiento: {trained.get('segundos', 0):.0f} s")
    served_name = record.get("servido_nombre") or "models/asistente.tar.gz"
    if record.get("servido"):
        lines.append(f"Comparado con el modelo servido ({served_name}) en "
                     f"{record['mensajes']['evaluacion']} mensajes de evaluación:")
    else:
        lines.append("No hay un modelo servido: se compara solo con las metas.")
    lines += ["", *headline_table(record), "", *level_table(record), ""]
    lines += ["Metas de make test: " + ("todas se cumplen ✓" if not record["metas"]
                                         else "; ".join(record["metas"]))]
    conversations = record.get("conversaciones")
    lines.append("Pruebas de conversación: " + {True: "pasan ✓", False: "FALLAN ✗",
                                                 None: "no se corrieron"}[conversations])
    lines += _margins(record)
    changes = record.get("cambios") or []
    counts = {k: sum(1 for c in changes if c["cambio"] == k) for k in ("mejor", "peor", "igual")}
    lines += ["", f"Mensajes cuya lectura cambió (evaluación + validación): {len(changes)} "
                  f"({counts['mejor']} mejor, {counts['peor']} peor, {counts['igual']} igual)"]
    lines += [_change_line(c) for c in changes[:SHOWN_CHANGES]]
    if len(changes) > SHOWN_CHANGES:
        lines.append(f"… y {len(changes) - SHOWN_CHANGES} más en el informe")
    verdict = record["veredicto"]
    lines.append("")
    if verdict["publicable"]:
        lines.append("✓ Se puede publicar: «make publicar» lo pone en servicio.")
    else:
        lines.append("✗ No se puede publicar:")
        lines += [f"  - {reason}" for reason in verdict["razones"]]
    return lines


def chart(record: Mapping[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    readers = [("servido", record.get("servido")), ("candidato", record["candidato"])]
    readers = [(name, f) for name, f in readers if f]
    width = 0.8 / len(readers)
    lowest = min(f["per_level"][level][m] for _, f in readers for level in LEVELS
                 for m in ("recall", "precision"))
    for ax, measure, title in ((axes[0], "recall", "Recall por nivel"),
                               (axes[1], "precision", "Precisión por nivel")):
        for i, (name, f) in enumerate(readers):
            xs = [j + i * width for j in range(len(LEVELS))]
            values = [f["per_level"][level][measure] for level in LEVELS]
            bars = ax.bar(xs, values, width, label=name)
            ax.bar_label(bars, labels=[f"{v:.3f}" for v in values], fontsize=7, padding=2)
        ax.set_xticks([j + width * (len(readers) - 1) / 2 for j in range(len(LEVELS))])
        ax.set_xticklabels([LEVEL_NAMES[level] for level in LEVELS])
        ax.set_ylim(max(0.0, lowest - 0.15), 1.04)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(loc="lower left")
    fig.suptitle(f"Candidato {record['nombre']}: conjunto de evaluación")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(record: Mapping[str, Any], folder: Path) -> Path:
    """results/entrenamiento/<name>/informe.md + informe.png; returns the Markdown path."""
    folder.mkdir(parents=True, exist_ok=True)
    chart(record, folder / "informe.png")
    lines = [f"# Entrenamiento {record['nombre']}", "", "![cifras por nivel](informe.png)", ""]
    lines += summary_lines(record)[:1] + [""]
    body = summary_lines(record)[1:]
    lines += [line if line.startswith("|") or not line else line + "  " for line in body]
    changes = record.get("cambios") or []
    if len(changes) > SHOWN_CHANGES:
        lines += ["", "## Todos los mensajes cuya lectura cambió", ""]
        lines += [f"- {_change_line(c)}" for c in changes]
    path = folder / "informe.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
