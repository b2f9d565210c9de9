from __future__ import annotations

import httpx
from conftest import PASSWORD, RunningConsole, csrf_from, login, make_agent, page_csrf

from console.app import create_app
from console.config import Settings
from console.security import hash_password, verify_password
from handoff.priority import RISK


def test_no_page_or_api_without_login(console: RunningConsole) -> None:
    ticket = console.queue.open_ticket("56911112222", "risk", RISK, "violencia_fisica")
    with httpx.Client(base_url=console.url) as client:
        for path in ("/", f"/tickets/{ticket.id}", "/audit"):
            response = client.get(path)
            assert response.status_code == 303 and response.headers["location"] == "/login"
        for path in ("/api/queue", f"/api/tickets/{ticket.id}"):
            assert client.get(path).status_code == 401
        for path in (f"/tickets/{ticket.id}/claim", f"/tickets/{ticket.id}/close", "/logout"):
            assert client.post(path, data={"csrf_token": "x"}).status_code == 401
        assert client.get("/login").status_code == 200
    assert console.queue.get(ticket.id).status == "waiting"


def test_login_sets_secure_session_cookie(console: RunningConsole) -> None:
    make_agent(console.queue, "ana")
    client = httpx.Client(base_url=console.url)
    page = client.get("/login")
    response = client.post("/login", data={"username": "ana", "password": PASSWORD,
                                           "csrf_token": csrf_from(page.text)})
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = next(h for h in response.headers.get_list("set-cookie")
                  if h.startswith("console_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    assert client.get("/").status_code == 200
    assert client.get("/api/queue").json()["me"]["username"] == "ana"
    actions = [e.action for e in console.queue.audit_entries()]
    assert "login" in actions


def test_secure_cookie_flag(queue, fake_rasa) -> None:
    settings = Settings(rasa_url=fake_rasa.url, secure_cookies=True, use_channel_window=False)
    running = RunningConsole(create_app(queue=queue, settings=settings), queue).start()
    try:
        make_agent(queue, "ana")
        client = httpx.Client(base_url=running.url)
        page = client.get("/login")
        login_cookie = page.headers["set-cookie"].split(";")[0]
        assert "Secure" in page.headers["set-cookie"]
        # a Secure cookie is not sent back over plain http: pass it by hand
        response = httpx.post(f"{running.url}/login", headers={"Cookie": login_cookie},
                              data={"username": "ana", "password": PASSWORD,
                                    "csrf_token": csrf_from(page.text)})
        cookie = next(h for h in response.headers.get_list("set-cookie")
                      if h.startswith("console_session="))
        assert "Secure" in cookie
    finally:
        running.stop()


def test_login_requires_csrf(console: RunningConsole) -> None:
    make_agent(console.queue, "ana")
    with httpx.Client(base_url=console.url) as client:
        response = client.post("/login", data={"username": "ana", "password": PASSWORD})
        assert response.status_code == 403
        client.get("/login")
        response = client.post("/login", data={"username": "ana", "password": PASSWORD,
                                               "csrf_token": "forged"})
        assert response.status_code == 403


def test_post_without_csrf_is_refused(console: RunningConsole) -> None:
    agent_id = make_agent(console.queue, "ana")
    ticket = console.queue.open_ticket("c1", "risk", RISK, "r")
    client = login(console, "ana")
    assert client.post(f"/tickets/{ticket.id}/claim").status_code == 403
    assert client.post(f"/tickets/{ticket.id}/claim",
                       data={"csrf_token": "wrong"}).status_code == 403
    assert console.queue.get(ticket.id).status == "waiting"
    assert any(e.action == "csrf_rejected" and e.agent_id == agent_id
               for e in console.queue.audit_entries())
    # the header works as well as the form field
    response = client.post(f"/tickets/{ticket.id}/claim",
                           headers={"X-CSRF-Token": page_csrf(client)})
    assert response.status_code == 303
    assert console.queue.get(ticket.id).agent_id == agent_id


# Failed logins (progressive delays, never a lock-out): tests/console/test_console_hardening.py


def test_logout_ends_the_session(console: RunningConsole) -> None:
    make_agent(console.queue, "ana")
    client = login(console, "ana")
    token = client.cookies.get("console_session")
    response = client.post("/logout", data={"csrf_token": page_csrf(client)})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    stale = httpx.Client(base_url=console.url, cookies={"console_session": token})
    assert stale.get("/api/queue").status_code == 401
    assert "logout" in [e.action for e in console.queue.audit_entries()]


def test_inactive_agent_cannot_log_in(console: RunningConsole) -> None:
    agent_id = make_agent(console.queue, "ana")
    client = login(console, "ana")
    console.queue.set_active(agent_id, False)
    assert client.get("/api/queue").status_code == 401
    with httpx.Client(base_url=console.url) as fresh:
        token = csrf_from(fresh.get("/login").text)
        response = fresh.post("/login", data={"username": "ana", "password": PASSWORD,
                                              "csrf_token": token})
        assert response.status_code == 401


def test_password_hash_is_a_standard_kdf() -> None:
    stored = hash_password("una-clave-larga")
    algorithm, n, r, p, salt, digest = stored.split("$")
    assert algorithm == "scrypt" and int(n) >= 2**14 and salt and digest
    assert verify_password("una-clave-larga", stored)
    assert not verify_password("otra-clave", stored)
    assert hash_password("una-clave-larga") != stored  # per-user salt


def test_console_marks_agents_online(console: RunningConsole) -> None:
    make_agent(console.queue, "ana")
    assert console.queue.online_agents() == 0
    client = login(console, "ana")
    client.get("/api/queue")
    assert console.queue.online_agents() == 1
    assert client.get("/api/queue").json()["online_agents"] == 1
