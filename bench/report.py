"""The readable table (medians, p99, max, ratios) and results/bench.json."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.stats import ratio, summary


class Report:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.lines: list[tuple[str, str]] = []
        self.ratios: dict[str, float | None] = {}
        self.errors: dict[str, str] = {}

    def timing(self, key: str, label: str, seconds: list[float], unit: str = "ms",
               note: str = "") -> dict[str, Any]:
        row = {"key": key, "label": label, "unit": unit, "note": note, **summary(seconds)}
        self.rows.append(row)
        return row

    def line(self, label: str, value: str) -> None:
        self.lines.append((label, value))

    def ratio(self, key: str, label: str, a: float | None, b: float | None) -> None:
        value = ratio(a, b)
        self.ratios[key] = value
        self.lines.append((label, "n/a" if value is None else f"{value:.2f}×"))

    def error(self, section: str, message: str) -> None:
        self.errors[section] = message

    def median(self, key: str) -> float | None:
        return next((r["median"] for r in self.rows if r["key"] == key), None)

    # ---------------------------------------------------------------- output
    @staticmethod
    def _fmt(value: float | None, unit: str) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        return f"{value * 1000:.1f}" if unit == "ms" else f"{value:.2f}"

    def table(self, header: list[str]) -> str:
        width = max([len(r["label"]) + 5 for r in self.rows] + [40])
        out = list(header)
        out.append("")
        out.append(f"{'measurement':<{width}} {'n':>4} {'median':>9} {'p99':>9} {'max':>9}")
        out.append("-" * (width + 34))
        for r in self.rows:
            label = f"{r['label']} [{r['unit']}]"
            out.append(f"{label:<{width}} {r['n']:>4} {self._fmt(r['median'], r['unit']):>9} "
                       f"{self._fmt(r['p99'], r['unit']):>9} {self._fmt(r['max'], r['unit']):>9}"
                       + (f"  {r['note']}" if r["note"] else ""))
        out.append("")
        for label, value in self.lines:
            out.append(f"{label:<{width}} {value}")
        for section, message in self.errors.items():
            out.append(f"FAILED {section}: {message}")
        return "\n".join(out)

    def write_json(self, path: Path, machine: dict[str, Any], raw: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"machine": machine, "summaries": self.rows, "ratios": self.ratios,
                "notes": dict(self.lines), "errors": self.errors, "raw": raw}
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
