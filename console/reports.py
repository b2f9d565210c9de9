"""The reports page: tables, a chart (PNG, drawn on the server with matplotlib) and CSV.

Everything comes from the anonymous statistics rows (``handoff/stats.py``) and goes through
suppression (``handoff/reports.py``): «<5» marks a count from 1 to 4, «*» a count hidden so
that a «<5» cannot be worked out from the total. Blocking (database, matplotlib): the console
runs it in its thread pool.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handoff.reports import (
    LEVELS,
    Period,
    PeriodFigures,
    PeriodSpan,
    Suppressed,
    figures,
    recent_periods,
)
from handoff.stats import StatsStore

PERIOD_COUNTS = {Period.DAY: 14, Period.WEEK: 12, Period.MONTH: 12}
LEVEL_COLORS = {"emergency": "#b3001b", "risk": "#d35400", "info": "#2f6fb3", "other": "#8d869a"}
SMALL = "<5"
HIDDEN = "*"


@dataclass(frozen=True)
class Report:
    period: Period
    spans: list[PeriodSpan]
    shown: list[Suppressed]
    regions: list[str]
    outcomes: list[str]
    tags: list[str]


def build_report(stats: StatsStore, period: Period, now: datetime) -> Report:
    spans = recent_periods(period, PERIOD_COUNTS[period], now)
    raw: list[PeriodFigures] = figures(
        period, spans, stats.handoff_rows(spans[0].since, spans[-1].until),
        stats.contact_rows(spans[0].since, spans[-1].until))
    shown = [Suppressed.of(f) for f in raw]
    return Report(
        period, spans, shown,
        regions=sorted({k for f in raw for k in f.by_region}),
        outcomes=sorted({k for f in raw for k in f.by_outcome}),
        tags=sorted({k for f in raw for k in f.by_tag}),
    )


def count(value: int | None) -> str:
    return SMALL if value is None else str(value)


def minutes(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f}".replace(".", ",")


def level_cell(row: Suppressed, level: str) -> str:
    return HIDDEN if level in row.hidden_levels else count(row.by_level.get(level))


def table(report: Report, texts: Any) -> dict[str, Any]:
    """Rows for the page: one per period, newest first."""
    rows = []
    for span, row in zip(report.spans, report.shown, strict=True):
        rows.append({
            "key": span.key,
            "start": span.start.strftime("%d/%m/%Y"),
            "conversations": count(row.conversations),
            "people": count(row.people),
            "handoffs": count(row.handoffs),
            "levels": [level_cell(row, level) for level in LEVELS],
            "abandoned": count(row.abandoned),
            "median": minutes(row.median_reply_seconds),
            "p90": minutes(row.p90_reply_seconds),
            "regions": [count(row.by_region.get(r, 0)) for r in report.regions],
            "outcomes": [count(row.by_outcome.get(o, 0)) for o in report.outcomes],
            "tags": [count(row.by_tag.get(t, 0)) for t in report.tags],
        })
    rows.reverse()
    return {
        "rows": rows,
        "level_labels": [texts.get("niveles", level) for level in LEVELS],
        "region_labels": report.regions,
        "outcome_labels": [texts.get("resultados", o) for o in report.outcomes],
        "tag_labels": [texts.get("etiquetas", t) for t in report.tags],
    }


def csv_text(report: Report, texts: Any) -> str:
    """Long format: one line per period, indicator and category."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["periodo", "inicio", "indicador", "categoria", "valor"])
    for span, row in zip(report.spans, report.shown, strict=True):
        start = span.start.isoformat()

        def put(indicator: str, category: str, value: str) -> None:
            writer.writerow([span.key, start, indicator, category, value])  # noqa: B023

        put("conversaciones", "", count(row.conversations))
        put("personas", "", count(row.people))
        put("derivaciones", "", count(row.handoffs))
        for level in LEVELS:
            put("derivaciones_por_nivel", level, level_cell(row, level))
        for region in report.regions:
            put("derivaciones_por_region", region, count(row.by_region.get(region, 0)))
        for outcome in report.outcomes:
            put("resultado", outcome, count(row.by_outcome.get(outcome, 0)))
        for tag in report.tags:
            put("etiqueta", tag, count(row.by_tag.get(tag, 0)))
        put("esperas_abandonadas", "", count(row.abandoned))
        put("primera_respuesta_mediana_min", "", minutes(row.median_reply_seconds))
        put("primera_respuesta_p90_min", "", minutes(row.p90_reply_seconds))
    return out.getvalue()


def chart_png(report: Report, texts: Any) -> bytes:
    """Handoffs by level per period (stacked bars) and time to the first human reply."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [s.key for s in report.spans]
    positions = list(range(len(labels)))
    figure = Figure(figsize=(10, 6), dpi=100)
    FigureCanvasAgg(figure)
    bars, times = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    bottom = [0] * len(labels)
    for level in LEVELS:
        heights = [0 if (row.by_level.get(level) is None or level in row.hidden_levels)
                   else row.by_level[level] for row in report.shown]
        bars.bar(positions, heights, bottom=bottom, color=LEVEL_COLORS[level],
                 label=texts.get("niveles", level))
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    # the part of a shown total whose levels are hidden (small cells): volume without detail
    rest = [max(0, (row.handoffs or 0) - b) for row, b in zip(report.shown, bottom, strict=True)]
    bars.bar(positions, rest, bottom=bottom, color="#ffffff", edgecolor="#8d869a", hatch="//",
             label="Sin desglose (<5)")
    for x, row in zip(positions, report.shown, strict=True):
        if row.handoffs is None:
            bars.annotate(SMALL, (x, 0), ha="center", va="bottom", fontsize=8, color="#5d5866")
    bars.set_ylim(0, max(max(bottom[i] + rest[i] for i in positions), 1) * 1.3)  # room for the legend
    bars.set_ylabel("Derivaciones")
    bars.set_title("Derivaciones a especialistas por nivel")
    bars.legend(loc="upper left", fontsize=8, ncol=5)
    bars.grid(axis="y", alpha=0.3)
    for key, style, name in (("median_reply_seconds", "o-", "Mediana"),
                             ("p90_reply_seconds", "s--", "Percentil 90")):
        values = [getattr(row, key) / 60 if getattr(row, key) is not None else float("nan")
                  for row in report.shown]
        times.plot(positions, values, style, label=name)
    top = max([getattr(r, k) or 0 for r in report.shown
               for k in ("median_reply_seconds", "p90_reply_seconds")] + [60]) / 60
    times.set_ylim(0, top * 1.35)
    times.set_ylabel("Minutos")
    times.set_title("Tiempo hasta la primera respuesta de una especialista")
    times.legend(loc="upper left", fontsize=8)
    times.grid(alpha=0.3)
    times.set_xticks(positions)
    times.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
