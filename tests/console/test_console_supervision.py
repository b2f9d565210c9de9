"""The supervisor's live view, assignment (by hand and automatic), and the reports."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta, timezone

from conftest import (
    FakeRasa,
    RunningConsole,
    console_settings,
    login,
    make_agent,
    page_csrf,
    start_console,
    wait_for,
)
from sqlalchemy import update

from console.assigner import assign_once
from handoff.models import Ticket
from handoff.priority import EMERGENCY, HIGH_RISK, PERSON, RISK


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def waited(console: RunningConsole, ticket_id: int, minutes: float) -> None:
    with console.queue.engine.begin() as conn:
        conn.execute(update(Ticket).where(Ticket.id == ticket_id)
                     .values(created_at=utcnow() - timedelta(minutes=minutes)))


def test_only_supervisors_see_the_live_view(console: RunningConsole) -> None:
    make_agent(console.queue, "ana")
    make_agent(console.queue, "sara", "supervisor")
    ana = login(console, "ana")
    for path in ("/supervision", "/api/supervision", "/reports", "/reports.csv",
                 "/reports/chart.png", "/accounts", "/audit"):
        assert ana.get(path).status_code == 403, path
    sup = login(console, "sara")
    assert sup.get("/supervision").status_code == 200


def test_live_view_shows_waits_loads_and_sla_breaches(console: RunningConsole) -> None:
    q = console.queue
    ana, bea = make_agent(q, "ana"), make_agent(q, "bea")
    make_agent(q, "sara", "supervisor")
    late = q.open_ticket("c1", "emergency", EMERGENCY, "emergencia_ahora")
    waited(console, late.id, 3)  # limit 2 min
    in_time = q.open_ticket("c2", "risk", HIGH_RISK, "amenazas")
    waited(console, in_time.id, 9)  # limit 10 min
    person = q.open_ticket("c3", "other", PERSON, "pedir_persona")
    waited(console, person.id, 300)  # no limit
    held = q.open_ticket("c4", "emergency", EMERGENCY, "x")
    q.claim(held.id, ana)
    q.touch_agent(ana)
    sup = login(console, "sara")
    state = sup.get("/api/supervision").json()
    assert [t["id"] for t in state["breaches"]] == [late.id]
    by_priority = {p["priority"]: p for p in state["by_priority"]}
    assert by_priority[EMERGENCY]["count"] == 1 and by_priority[EMERGENCY]["breached"] == 1
    assert by_priority[HIGH_RISK]["breached"] == 0 and by_priority[PERSON]["count"] == 1
    assert state["longest"]["id"] == person.id
    staff = {a["username"]: a for a in state["staff"]}
    assert staff["ana"]["online"] and staff["ana"]["open"] == 1
    assert staff["ana"]["emergencies"] == 1 and not staff["bea"]["online"]
    assert "sara" in staff  # supervisors do casework too
    html = sup.get("/supervision").text
    assert f'id="sup-ticket-{late.id}" class="late"' in html and "Fuera de plazo" in html
    assert "Emergencia 2 min" in html  # the limits in force
    # every console page of a supervisor gets the breach times for the alert
    sla = sup.get("/api/queue").json()["sla"]
    assert sla["breaches"] == [late.id]
    watch = {w["id"]: w["breach_at"] for w in sla["watch"]}
    assert set(watch) == {late.id, in_time.id}  # the person has no limit
    created = q.get(in_time.id).created_at.replace(tzinfo=timezone.utc).timestamp() * 1000
    assert abs(watch[in_time.id] - (created + 10 * 60_000)) < 1
    assert bea  # bea exists but is offline


def test_supervisor_assigns_a_waiting_case_and_the_bot_is_paused(
    console: RunningConsole, fake_rasa: FakeRasa
) -> None:
    q = console.queue
    bea = make_agent(q, "bea")
    make_agent(q, "sara", "supervisor")
    fake_rasa.trackers["c1"] = {"sender_id": "c1", "paused": False, "events": []}
    ticket = q.open_ticket("c1", "emergency", EMERGENCY, "x")
    sup = login(console, "sara")
    response = sup.post(f"/supervision/tickets/{ticket.id}/assign",
                        data={"csrf_token": page_csrf(sup, "/supervision"), "to_agent": str(bea)})
    assert response.headers["location"] == "/supervision?msg=assigned"
    assert q.get(ticket.id).agent_id == bea and q.get(ticket.id).status == "assigned"
    assert [e["event"] for e in fake_rasa.events_for("c1")] == ["pause"]
    assert any(e.action == "ticket_assigned" for e in q.audit_entries(ticket.id))
    # reassigning from the live view
    ana = make_agent(q, "ana")
    response = sup.post(f"/supervision/tickets/{ticket.id}/assign",
                        data={"csrf_token": page_csrf(sup, "/supervision"), "to_agent": str(ana)})
    assert response.headers["location"] == "/supervision?msg=reassigned"
    assert q.get(ticket.id).agent_id == ana
    # nobody can be given a case who does not do casework
    trainer = make_agent(q, "tere", "trainer")
    other = q.open_ticket("c2", "risk", RISK, "r")
    response = sup.post(f"/supervision/tickets/{other.id}/assign",
                        data={"csrf_token": page_csrf(sup, "/supervision"),
                              "to_agent": str(trainer)})
    assert response.headers["location"] == "/supervision?msg=bad_agent"
    assert q.get(other.id).status == "waiting"


def test_automatic_assignment_round(queue, fake_rasa: FakeRasa) -> None:
    import asyncio

    console = start_console(queue, fake_rasa, settings=console_settings(
        fake_rasa, auto_assign=True, cases_per_specialist=1, auto_assign_seconds=0.2))
    try:
        ana, bea = make_agent(queue, "ana"), make_agent(queue, "bea")
        make_agent(queue, "sara", "supervisor")
        for agent in (ana, bea):
            queue.touch_agent(agent)
        risk = queue.open_ticket("c1", "risk", RISK, "r")
        emergency = queue.open_ticket("c2", "emergency", EMERGENCY, "x")
        third = queue.open_ticket("c3", "risk", RISK, "r")
        wait_for(lambda: queue.get(emergency.id).status == "assigned"
                 and queue.get(risk.id).status == "assigned", timeout=10)
        holders = {queue.get(emergency.id).agent_id, queue.get(risk.id).agent_id}
        assert holders == {ana, bea}  # one each: the cap is 1
        assert queue.get(third.id).status == "waiting"
        time.sleep(0.5)
        assert queue.get(third.id).status == "waiting"  # nobody has room
        assert {e["conversation_id"] for e in fake_rasa.posted
                if e["body"]["event"] == "pause"} == {"c1", "c2"}
        # supervisors are never assigned automatically
        assert all(queue.get(t).agent_id in (ana, bea) for t in (risk.id, emergency.id))
        services = console.app.ctx.services
        done = asyncio.run_coroutine_threadsafe(
            assign_once(services.queue, services.casework, 1), console._loop).result(10)
        assert done == []
    finally:
        console.stop()


# ----------------------------------------------------------------------- reports
def lifecycle(q, conversation: str, level: str, priority: int, agent: int, outcome: str,
              reply_after: float | None, region: str | None = None) -> None:
    t = q.open_ticket(conversation, level, priority, "r", region=region)
    q.claim(t.id, agent)
    if reply_after is not None:
        q.record_first_reply(t.id, q.get(t.id).created_at + timedelta(seconds=reply_after))
    q.close(t.id, agent, outcome)


def test_reports_page_chart_and_csv_with_small_cells_suppressed(
    console: RunningConsole, fake_rasa: FakeRasa
) -> None:
    q = console.queue
    ana = make_agent(q, "ana")
    make_agent(q, "sara", "supervisor")
    for i in range(6):
        lifecycle(q, f"5691111000{i}", "risk", RISK, ana, "orientacion", 60 * (i + 1),
                  "Región de Valparaíso")
    for i in range(2):
        lifecycle(q, f"5692222000{i}", "emergency", EMERGENCY, ana, "emergencia_derivada", 30,
                  "Región de Los Ríos")
    lifecycle(q, "56933330000", "other", PERSON, ana, "sin_respuesta", None)
    sup = login(console, "sara")
    page = sup.get("/reports?periodo=dia")
    assert page.status_code == 200
    html = page.text
    for text in ('id="report-chart"', 'id="report-table"', "Región de Valparaíso",
                 "Región de Los Ríos", "Se dio orientación", "Dejó de responder",
                 'id="export-csv"', "&lt;5"):
        assert text in html, text
    assert "5691111000" not in html and "5692222000" not in html
    chart = sup.get("/reports/chart.png?periodo=semana")
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/png"
    assert chart.content[:8] == b"\x89PNG\r\n\x1a\n" and len(chart.content) > 5000
    export = sup.get("/reports.csv?periodo=dia")
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    today = [r for r in rows if r["periodo"] == rows[-1]["periodo"]]
    value = {(r["indicador"], r["categoria"]): r["valor"] for r in today}
    assert value[("derivaciones", "")] == "9"
    assert value[("derivaciones_por_nivel", "emergency")] == "<5"  # 2
    assert value[("derivaciones_por_nivel", "other")] == "<5"  # 1
    assert value[("derivaciones_por_nivel", "risk")] == "6"
    assert value[("derivaciones_por_region", "Región de Valparaíso")] == "6"
    assert value[("derivaciones_por_region", "Región de Los Ríos")] == "<5"
    assert value[("resultado", "orientacion")] == "6"
    assert value[("esperas_abandonadas", "")] == "<5"
    # replies after 30, 30, 60, 120, 180, 240, 300 and 360 s
    assert value[("primera_respuesta_mediana_min", "")] == "2,5"
    assert value[("primera_respuesta_p90_min", "")] == "6,0"
    assert "56911110000" not in export.text
    assert any(e.action == "report_exported" for e in q.audit_entries())
