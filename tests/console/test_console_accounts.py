"""Accounts in the console: one-time codes, deactivation, own passwords, the trainer role."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from conftest import PASSWORD, RunningConsole, csrf_from, login, make_agent, page_csrf
from sqlalchemy import update

from console.models import OneTimeCode
from handoff.base import utcnow
from handoff.priority import RISK

NEW_PASSWORD = "otra-clave-segura-456"


def code_in(html: str) -> str:
    match = re.search(r'id="one-time-code">([^<]+)<', html)
    assert match, "no one-time code on the page"
    return match.group(1).strip()


def try_login(console: RunningConsole, username: str, secret: str) -> httpx.Response:
    client = httpx.Client(base_url=console.url, follow_redirects=False, timeout=10)
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": secret,
                                       "csrf_token": csrf_from(page.text)})


def first_login(console: RunningConsole, username: str, code: str) -> httpx.Client:
    client = httpx.Client(base_url=console.url, follow_redirects=False, timeout=10)
    page = client.get("/login")
    response = client.post("/login", data={"username": username, "password": code,
                                           "csrf_token": csrf_from(page.text)})
    assert response.status_code == 303 and response.headers["location"] == "/account/password"
    return client


def create(sup: httpx.Client, username: str, role: str = "specialist") -> httpx.Response:
    return sup.post("/accounts", data={"csrf_token": page_csrf(sup, "/accounts"),
                                       "username": username, "role": role})


def test_a_supervisor_creates_an_account_with_a_one_time_code(console: RunningConsole) -> None:
    sup_id = make_agent(console.queue, "sara", "supervisor")
    sup = login(console, "sara")
    response = create(sup, "ana")
    assert response.status_code == 200
    code = code_in(response.text)
    assert re.fullmatch(r"[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}", code)
    listing = sup.get("/accounts").text
    assert code not in listing and "Esperando primer ingreso" in listing  # shown once only
    assert "password_hash" not in listing and "scrypt$" not in listing
    ana = console.queue.agent_by_username("ana")
    assert ana.must_change_password and ana.role == "specialist"
    # the code works once, and only to choose a password
    client = first_login(console, "ana", code.lower().replace("-", " "))
    assert client.get("/").headers["location"].startswith("/account/password")
    assert client.get("/api/queue").status_code == 403
    form = client.get("/account/password").text
    assert 'name="current"' not in form  # she has no password yet
    response = client.post("/account/password", data={
        "csrf_token": csrf_from(form), "new": NEW_PASSWORD, "repeat": NEW_PASSWORD})
    assert response.headers["location"] == "/?msg=password_changed"
    assert client.get("/").status_code == 200
    assert try_login(console, "ana", code).status_code == 401
    assert try_login(console, "ana", NEW_PASSWORD).status_code == 303
    actions = [(e.action, e.agent_id) for e in console.queue.audit_entries()]
    assert ("agent_created", sup_id) in actions and ("one_time_code_created", sup_id) in actions
    assert ("login_with_code", ana.id) in actions and ("password_changed", ana.id) in actions


def test_usernames_roles_and_duplicates(console: RunningConsole) -> None:
    make_agent(console.queue, "sara", "supervisor")
    sup = login(console, "sara")
    assert "Usuario inválido" in create(sup, "a b").text
    assert create(sup, "ana").status_code == 200
    assert "Ya existe" in create(sup, "ana").text
    assert create(sup, "jefa", "supervisor").status_code == 400  # only with make agent
    assert console.queue.agent_by_username("jefa") is None
    assert create(sup, "tere", "trainer").status_code == 200
    assert console.queue.agent_by_username("tere").role == "trainer"


def test_reset_ends_sessions_and_replaces_the_password(console: RunningConsole) -> None:
    make_agent(console.queue, "sara", "supervisor")
    ana_id = make_agent(console.queue, "ana")
    ana = login(console, "ana")
    sup = login(console, "sara")
    first = code_in(sup.post(f"/accounts/{ana_id}/reset",
                             data={"csrf_token": page_csrf(sup, "/accounts")}).text)
    second = code_in(sup.post(f"/accounts/{ana_id}/reset",
                              data={"csrf_token": page_csrf(sup, "/accounts")}).text)
    assert first != second
    assert ana.get("/api/queue").status_code == 401  # her session ended
    assert try_login(console, "ana", PASSWORD).status_code == 401  # old password gone
    assert try_login(console, "ana", first).status_code == 401  # replaced by the newer code
    first_login(console, "ana", second)


def test_an_expired_code_is_refused(console: RunningConsole) -> None:
    make_agent(console.queue, "sara", "supervisor")
    sup = login(console, "sara")
    code = code_in(create(sup, "ana").text)
    with console.queue.engine.begin() as conn:
        conn.execute(update(OneTimeCode).values(expires_at=utcnow() - timedelta(minutes=1)))
    assert try_login(console, "ana", code).status_code == 401


def test_deactivate_and_activate(console: RunningConsole) -> None:
    sup_id = make_agent(console.queue, "sara", "supervisor")
    ana_id = make_agent(console.queue, "ana")
    ana = login(console, "ana")
    sup = login(console, "sara")
    response = sup.post(f"/accounts/{ana_id}/deactivate",
                        data={"csrf_token": page_csrf(sup, "/accounts")})
    assert response.headers["location"] == "/accounts?msg=account_deactivated"
    assert ana.get("/api/queue").status_code == 401
    assert try_login(console, "ana", PASSWORD).status_code == 401
    sup.post(f"/accounts/{ana_id}/activate", data={"csrf_token": page_csrf(sup, "/accounts")})
    assert try_login(console, "ana", PASSWORD).status_code == 303
    response = sup.post(f"/accounts/{sup_id}/deactivate",
                        data={"csrf_token": page_csrf(sup, "/accounts")})
    assert response.headers["location"] == "/accounts?msg=account_self"
    assert console.queue.get_agent(sup_id).active
    actions = {e.action for e in console.queue.audit_entries()}
    assert {"agent_deactivated", "agent_activated"} <= actions


def test_everyone_changes_her_own_password(console: RunningConsole) -> None:
    make_agent(console.queue, "ana")
    client = login(console, "ana")
    other_tab = login(console, "ana")

    def change(current: str, new: str, repeat: str) -> str:
        return client.post("/account/password", data={
            "csrf_token": page_csrf(client, "/account/password"), "current": current,
            "new": new, "repeat": repeat}).headers["location"]

    assert change("mala", NEW_PASSWORD, NEW_PASSWORD).endswith("msg=password_wrong")
    assert change(PASSWORD, "corta", "corta").endswith("msg=password_short")
    assert change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x").endswith("msg=password_mismatch")
    assert change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD) == "/?msg=password_changed"
    assert client.get("/api/queue").status_code == 200  # this session stays
    assert other_tab.get("/api/queue").status_code == 401  # other sessions end
    assert try_login(console, "ana", NEW_PASSWORD).status_code == 303


def test_trainers_never_see_casework(console: RunningConsole) -> None:
    make_agent(console.queue, "tere", "trainer")
    ticket = console.queue.open_ticket("56911112222", "risk", RISK, "violencia_fisica")
    client = login(console, "tere")
    home = client.get("/")
    assert home.status_code == 200 and 'id="trainer-home"' in home.text
    assert "violencia_fisica" not in home.text and 'id="waiting-list"' not in home.text
    for path in ("/api/queue", f"/tickets/{ticket.id}", f"/api/tickets/{ticket.id}",
                 "/supervision", "/reports", "/accounts", "/audit"):
        assert client.get(path).status_code == 403, path
    csrf = page_csrf(client, "/account/password")
    for action in ("claim", "reply", "close", "notes", "release", "follow-up"):
        response = client.post(f"/tickets/{ticket.id}/{action}",
                               data={"csrf_token": csrf, "text": "x", "outcome": "otro"})
        assert response.status_code == 403, action
    assert console.queue.get(ticket.id).status == "waiting"
    assert console.queue.audit_entries(ticket.id)[0].action == "ticket_opened"
