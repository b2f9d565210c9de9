"""Anonymous reports: the page, its chart (PNG) and the CSV export (supervisors)."""

from __future__ import annotations

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, raw, text

from console.offload import in_thread
from console.reports import build_report, chart_png, csv_text, table
from console.web import me, render, services, supervisors_only
from handoff.base import utcnow
from handoff.reports import Period


async def _report(request: Request):  # noqa: ANN202 - console.reports.Report
    s = services(request)
    period = Period.parse(request.args.get("periodo"))
    return await in_thread(s.pool, build_report, s.stats.target, period, utcnow())


def blueprint() -> Blueprint:
    bp = Blueprint("reports")

    @bp.get("/reports")
    @supervisors_only
    async def page(request: Request) -> HTTPResponse:
        s = services(request)
        report = await _report(request)
        return render(request, "reports.html", title="Informes", report=report,
                      table=table(report, s.texts), periods=list(Period))

    @bp.get("/reports/chart.png")
    @supervisors_only
    async def chart(request: Request) -> HTTPResponse:
        s = services(request)
        report = await _report(request)
        png = await in_thread(s.pool, chart_png, report, s.texts)
        return raw(png, content_type="image/png")

    @bp.get("/reports.csv")
    @supervisors_only
    async def export(request: Request) -> HTTPResponse:
        s = services(request)
        report = await _report(request)
        await s.queue.audit("report_exported", me(request).id, detail=report.period.value)
        name = f"informe-{report.period.value}-{report.spans[-1].key}.csv"
        return text(csv_text(report, s.texts), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})

    return bp
