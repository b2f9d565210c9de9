"""Console hardening: client address behind a proxy, Secure cookies,
progressive login delays, idle timeout, audited reading of closed cases."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import httpx
import pyotp
import pytest
from conftest import PASSWORD, RunningConsole, console_settings, csrf_from, make_agent, page_csrf

from console.client import parse_networks
from console.config import Settings
from console.throttle import DelayPolicy, Failures
from handoff.priority import RISK


class Clock:
    """The console's clock for sessions and login delays, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 8, 12, 0, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _attempt(client: httpx.Client, username: str, password: str,
             headers: dict[str, str] | None = None) -> httpx.Response:
    token = csrf_from(client.get("/login", headers=headers).text)
    return client.post("/login", headers=headers,
                       data={"username": username, "password": password, "csrf_token": token})


def _session_cookie(response: httpx.Response) -> str:
    return next(h for h in response.headers.get_list("set-cookie")
                if h.startswith("console_session="))


# ------------------------------------------------------------ client address, HTTPS
def test_trusted_proxies_come_from_the_environment() -> None:
    default = Settings.from_env({})
    assert {str(n) for n in default.trusted_proxies} == {"127.0.0.1/32", "::1/128"}
    configured = Settings.from_env({"CONSOLE_TRUSTED_PROXIES": "10.0.0.5, 10.1.0.0/16, nope"})
    assert [str(n) for n in configured.trusted_proxies] == ["10.0.0.5/32", "10.1.0.0/16"]


def _failures_by_address(running: RunningConsole, headers: dict[str, str]) -> int:
    """Wrong logins with unknown names sent with ``headers``; how many were refused (429)."""
    with httpx.Client(base_url=running.url) as client:
        codes = [_attempt(client, f"nadie{i}", "x", headers).status_code for i in range(5)]
    return codes.count(429)


def test_forwarded_for_is_believed_from_a_trusted_proxy(queue, fake_rasa, start) -> None:
    # the tests connect from 127.0.0.1, the default trusted proxy (nginx on the same machine)
    running = start(queue, fake_rasa, console_settings(fake_rasa, login_free_attempts=2,
                                                       login_delay_seconds=60))
    # an attacker's address is slowed down after 2 failures...
    assert _failures_by_address(running, {"X-Forwarded-For": "203.0.113.9"}) == 3
    # ...another client behind the same proxy is not (her address is her own)
    with httpx.Client(base_url=running.url) as client:
        response = _attempt(client, "ana", PASSWORD, {"X-Forwarded-For": "198.51.100.7"})
    assert response.status_code == 303
    # a forged left-most entry does not change who the proxy says the client is
    forged = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9"}
    with httpx.Client(base_url=running.url) as client:
        assert _attempt(client, "ana", PASSWORD, forged).status_code == 429


def test_forwarded_for_is_ignored_from_other_peers(queue, fake_rasa, start) -> None:
    settings = console_settings(fake_rasa, login_free_attempts=2, login_delay_seconds=60,
                                trusted_proxies=parse_networks("10.9.9.9"))
    running = start(queue, fake_rasa, settings)
    assert _failures_by_address(running, {"X-Forwarded-For": "203.0.113.9"}) == 3
    # a new X-Forwarded-For does not give a new address: the socket peer is still slowed
    with httpx.Client(base_url=running.url) as client:
        response = _attempt(client, "ana", PASSWORD, {"X-Forwarded-For": "198.51.100.7"})
    assert response.status_code == 429


def test_cookies_are_secure_behind_an_https_proxy(queue, fake_rasa, start) -> None:
    running = start(queue, fake_rasa, console_settings(fake_rasa))
    https = {"X-Forwarded-Proto": "https"}
    with httpx.Client(base_url=running.url) as client:
        page = client.get("/login", headers=https)
        assert "Secure" in page.headers["set-cookie"]
        response = client.post("/login", headers={**https, "Cookie": page.headers[
            "set-cookie"].split(";")[0]}, data={"username": "ana", "password": PASSWORD,
                                                 "csrf_token": csrf_from(page.text)})
        cookie = _session_cookie(response)
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        # plain http: no Secure flag (the browser would never send it back)
        plain = _attempt(httpx.Client(base_url=running.url), "ana", PASSWORD)
        cookie = _session_cookie(plain)
        assert "Secure" not in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_forwarded_proto_is_ignored_from_other_peers(queue, fake_rasa, start) -> None:
    settings = console_settings(fake_rasa, trusted_proxies=parse_networks("10.9.9.9"))
    running = start(queue, fake_rasa, settings)
    with httpx.Client(base_url=running.url) as client:
        page = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "HttpOnly" in page.headers["set-cookie"]
    assert "Secure" not in page.headers["set-cookie"]


# ------------------------------------------------------------ progressive login delays
def test_delay_doubles_after_the_free_attempts_and_is_capped() -> None:
    policy = DelayPolicy(free=3, first_seconds=5, max_account_seconds=60,
                         max_address_seconds=900)
    assert [policy.delay(n, 60) for n in range(8)] == [0, 0, 0, 5, 10, 20, 40, 60]
    assert policy.delay(10_000, 900) == 900
    now = datetime(2026, 3, 8, 12, 0, 0)
    recent = Failures(4, now - timedelta(seconds=3))
    assert policy.wait_seconds(recent, Failures(), now) == 7
    assert policy.wait_seconds(Failures(), recent, now) == 7
    assert policy.wait_seconds(Failures(2, now), Failures(2, now), now) == 0
    # a stranger's thousand failures on her account: she waits a minute at most
    assert policy.wait_seconds(Failures(1000, now), Failures(), now) == 60
    assert Settings.from_env({"CONSOLE_LOGIN_DELAY_SECONDS": "nan"}).login_delay_seconds == 5


def test_wrong_passwords_slow_down_progressively(queue, fake_rasa, start, clock) -> None:
    running = start(queue, fake_rasa, clock=clock)
    with httpx.Client(base_url=running.url) as client:
        assert [_attempt(client, "ana", "mala").status_code for _ in range(3)] == [401] * 3
        refused = _attempt(client, "ana", PASSWORD)  # even the right password, for now
        assert refused.status_code == 429 and refused.headers["retry-after"] == "5"
        assert "Espera 5 segundos" in refused.text
        clock.advance(5)
        assert _attempt(client, "ana", "mala").status_code == 401  # 4th failure
        assert _attempt(client, "ana", "mala").headers["retry-after"] == "10"
        clock.advance(4)
        # trying during the wait does not make it longer
        assert _attempt(client, "ana", "mala").headers["retry-after"] == "6"
        clock.advance(6)
        assert _attempt(client, "ana", PASSWORD).status_code == 303
    actions = [e.action for e in queue.audit_entries()]
    assert actions.count("login_failed") == 4 and actions.count("login_rate_limited") == 3


def test_a_stranger_cannot_lock_her_out(queue, fake_rasa, start, clock) -> None:
    running = start(queue, fake_rasa, clock=clock)
    make_agent(queue, "bea")
    with httpx.Client(base_url=running.url) as client:
        for i in range(30):  # many guesses from many addresses, waiting out each delay
            stranger = {"X-Forwarded-For": f"203.0.113.{i}"}
            assert _attempt(client, "ana", "mala", stranger).status_code == 401
            clock.advance(60)
        clock.advance(-60)
        hers = {"X-Forwarded-For": "198.51.100.7"}
        refused = _attempt(client, "ana", PASSWORD, hers)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) <= 60
        other = httpx.Client(base_url=running.url)
        assert _attempt(other, "bea", PASSWORD, hers).status_code == 303  # others unaffected
        clock.advance(60)
        assert _attempt(client, "ana", PASSWORD, hers).status_code == 303


def test_one_address_guessing_many_names_waits_longer(queue, fake_rasa, start, clock) -> None:
    running = start(queue, fake_rasa, clock=clock)
    guesser = {"X-Forwarded-For": "203.0.113.9"}
    with httpx.Client(base_url=running.url) as client:
        waits = []
        for i in range(12):  # each guess waits exactly what it is told to
            answer = _attempt(client, f"nadie{i}", "x", guesser)
            if answer.status_code == 429:
                waits.append(int(answer.headers["retry-after"]))
                clock.advance(waits[-1])
                answer = _attempt(client, f"nadie{i}", "x", guesser)
            assert answer.status_code == 401
        assert waits == [5, 10, 20, 40, 80, 160, 320, 640, 900]
        refused = _attempt(client, "ana", PASSWORD, guesser)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "900"


def test_a_supervisor_clears_the_wait(queue, fake_rasa, start, clock) -> None:
    running = start(queue, fake_rasa, clock=clock)
    ana = queue.agent_by_username("ana").id
    make_agent(queue, "sara", "supervisor")
    with httpx.Client(base_url=running.url) as client:
        for _ in range(5):
            _attempt(client, "ana", "mala", {"X-Forwarded-For": "203.0.113.9"})
        assert _attempt(client, "ana", PASSWORD).status_code == 429
        sara = httpx.Client(base_url=running.url)
        assert _attempt(sara, "sara", PASSWORD).status_code == 303
        page = sara.get("/accounts")
        assert f'id="clear-failures-{ana}"' in page.text
        specialist = httpx.Client(base_url=running.url)
        assert _attempt(specialist, "ana", PASSWORD).status_code == 429
        answer = sara.post(f"/accounts/{ana}/clear-failures",
                           data={"csrf_token": csrf_from(page.text)})
        assert answer.status_code == 303 and "failures_cleared" in answer.headers["location"]
        assert f'id="clear-failures-{ana}"' not in sara.get("/accounts").text
        assert _attempt(client, "ana", PASSWORD).status_code == 303
    assert any(e.action == "login_failures_cleared" and e.detail == f"agent={ana}"
               for e in queue.audit_entries())


def test_a_specialist_cannot_clear_the_wait(queue, fake_rasa, start) -> None:
    running = start(queue, fake_rasa)
    bea = make_agent(queue, "bea")
    client = httpx.Client(base_url=running.url)
    assert _attempt(client, "ana", PASSWORD).status_code == 303
    answer = client.post(f"/accounts/{bea}/clear-failures",
                         data={"csrf_token": page_csrf(client)})
    assert answer.status_code == 403
    assert not any(e.action == "login_failures_cleared" for e in queue.audit_entries())


def test_manage_clears_the_wait(tmp_path) -> None:
    from test_console_cli import run_manage

    from console.sessions import SessionStore
    from handoff.queue import HandoffQueue
    from store.db import make_engine

    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    engine = make_engine(db_url)
    queue = HandoffQueue(engine)
    make_agent(queue, "ana")
    store = SessionStore(engine)  # no CONSOLE_SECRET, as the command sees it here
    for _ in range(4):
        store.record_failure("ana", "203.0.113.9")
    assert store.failures("ana", "x", 60)[0].count == 4
    done = run_manage(db_url, "clear-login-failures", "--username", "ana")
    assert done.returncode == 0, done.stderr
    assert store.failures("ana", "x", 60)[0].count == 0
    assert store.failures("x", "203.0.113.9", 60)[1].count == 4  # the guesser still waits
    assert any(e.action == "login_failures_cleared" for e in queue.audit_entries())
    # a supervisor who lost her phone: her second factor goes, she enrols again
    from console.totp import TotpState, TotpStore

    totp, ana = TotpStore(engine), queue.agent_by_username("ana").id
    secret = totp.pending_secret(ana)
    assert totp.check(ana, pyotp.TOTP(secret).now())
    assert totp.state(ana) is TotpState.ACTIVE
    done = run_manage(db_url, "reset-totp", "--username", "ana")
    assert done.returncode == 0, done.stderr
    assert totp.state(ana) is TotpState.NONE


# ------------------------------------------------------------ idle timeout
def _logged_in(running: RunningConsole) -> httpx.Client:
    client = httpx.Client(base_url=running.url)
    assert _attempt(client, "ana", PASSWORD).status_code == 303
    return client


def test_idle_minutes_come_from_the_environment() -> None:
    assert Settings.from_env({}).idle_minutes == 30
    assert Settings.from_env({"CONSOLE_IDLE_MINUTES": "10"}).idle_minutes == 10
    assert Settings.from_env({"CONSOLE_IDLE_MINUTES": "-1"}).idle_minutes == 30


def test_an_idle_session_is_refused(queue, fake_rasa, start, clock) -> None:
    running = start(queue, fake_rasa, clock=clock)
    client = _logged_in(running)
    for _ in range(3):  # in use: each page renews it, well past 30 minutes in all
        clock.advance(29 * 60)
        assert client.get("/").status_code == 200
    clock.advance(30 * 60 + 1)
    answer = client.get("/")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?msg=session_ended"
    assert "por inactividad" in client.get(answer.headers["location"]).text
    # gone for good: coming back does not revive it
    clock.advance(-3600)
    assert client.get("/api/queue").status_code == 401


def test_polling_is_not_activity(queue, fake_rasa, start, clock) -> None:
    running = start(queue, fake_rasa, clock=clock)
    client = _logged_in(running)
    clock.advance(20 * 60)
    assert client.get("/api/queue").status_code == 200
    clock.advance(11 * 60)  # 31 minutes since she last did anything
    assert client.get("/api/queue").status_code == 401


def test_a_post_is_activity(queue, fake_rasa, start, clock) -> None:
    running = start(queue, fake_rasa, clock=clock)
    client = _logged_in(running)
    csrf = page_csrf(client)
    clock.advance(25 * 60)
    answer = client.post("/account/password", data={"csrf_token": csrf, "current": "mala",
                                                     "new": "x", "repeat": "y"})
    assert answer.status_code == 303
    clock.advance(25 * 60)
    assert client.get("/").status_code == 200


# ------------------------------------------------------------ reading is audited
def _closed_case(queue, holder: int) -> int:
    ticket = queue.open_ticket("56911112222", "risk", RISK, "violencia_fisica")
    queue.claim(ticket.id, holder)
    queue.close(ticket.id, holder, "orientacion")
    return ticket.id


def _reads(queue, ticket_id: int) -> list[tuple[str, str | None]]:
    return [(e.action, e.detail) for e in reversed(queue.audit_entries(ticket_id))
            if e.action in ("conversation_viewed", "closed_case_read")]


def test_each_opening_is_audited_not_each_poll(queue, fake_rasa, start) -> None:
    running = start(queue, fake_rasa)
    ana = queue.agent_by_username("ana").id
    ticket = queue.open_ticket("56911112222", "risk", RISK, "violencia_fisica")
    queue.claim(ticket.id, ana)
    client = _logged_in(running)
    assert client.get(f"/tickets/{ticket.id}").status_code == 200
    for _ in range(3):
        assert client.get(f"/api/tickets/{ticket.id}").status_code == 200
    assert _reads(queue, ticket.id) == [("conversation_viewed", None)]
    assert client.get(f"/tickets/{ticket.id}").status_code == 200
    assert len(_reads(queue, ticket.id)) == 2


def test_a_closed_case_opens_only_with_a_reason(queue, fake_rasa, start) -> None:
    running = start(queue, fake_rasa)
    ticket_id = _closed_case(queue, queue.agent_by_username("ana").id)
    fake_rasa.trackers["56911112222"] = {"events": [
        {"event": "user", "text": "me pegó anoche", "timestamp": 1}]}
    client = _logged_in(running)
    page = client.get(f"/tickets/{ticket_id}")
    assert page.status_code == 200 and 'id="reason-form"' in page.text
    assert "me pegó" not in page.text
    api = client.get(f"/api/tickets/{ticket_id}")
    assert api.status_code == 403 and api.json()["status"] == "reason"
    assert _reads(queue, ticket_id) == []
    csrf = csrf_from(page.text)
    for bad in ("", "  a ", "x" * 201):
        refused = client.post(f"/tickets/{ticket_id}/read-closed",
                              data={"csrf_token": csrf, "reason": bad})
        assert refused.status_code == 400 and 'id="reason-error"' in refused.text
    assert client.get(f"/api/tickets/{ticket_id}").status_code == 403
    given = client.post(f"/tickets/{ticket_id}/read-closed",
                        data={"csrf_token": csrf, "reason": "  seguimiento\n\tacordado "})
    assert given.status_code == 303
    opened = client.get(given.headers["location"])
    assert opened.status_code == 200 and "me pegó" in opened.text
    for _ in range(3):  # the page's polling works and is not audited
        assert client.get(f"/api/tickets/{ticket_id}").status_code == 200
    assert _reads(queue, ticket_id) == [("closed_case_read", "motivo: seguimiento acordado")]
    # another session of the same person must give its own reason
    other = _logged_in(running)
    assert 'id="reason-form"' in other.get(f"/tickets/{ticket_id}").text


def test_the_reason_needs_csrf_and_the_right_to_read(queue, fake_rasa, start) -> None:
    running = start(queue, fake_rasa)
    bea = make_agent(queue, "bea")
    ticket_id = _closed_case(queue, bea)  # closed by someone else: ana may not read it
    client = _logged_in(running)
    csrf = page_csrf(client)
    assert client.post(f"/tickets/{ticket_id}/read-closed",
                       data={"reason": "seguimiento"}).status_code == 403
    denied = client.post(f"/tickets/{ticket_id}/read-closed",
                         data={"csrf_token": csrf, "reason": "seguimiento"})
    assert denied.status_code == 303 and denied.headers["location"].endswith("not_allowed")
    assert client.get(f"/tickets/{ticket_id}").headers["location"].endswith("not_allowed")
    assert client.get(f"/api/tickets/{ticket_id}").status_code == 404
    assert _reads(queue, ticket_id) == []


def test_a_supervisor_gives_a_reason_too(queue, fake_rasa, start) -> None:
    running = start(queue, fake_rasa)
    ticket_id = _closed_case(queue, queue.agent_by_username("ana").id)
    make_agent(queue, "sara", "supervisor")
    sara = httpx.Client(base_url=running.url)
    assert _attempt(sara, "sara", PASSWORD).status_code == 303
    page = sara.get(f"/tickets/{ticket_id}")
    assert 'id="reason-form"' in page.text
    sara.post(f"/tickets/{ticket_id}/read-closed",
              data={"csrf_token": csrf_from(page.text), "reason": "revisión de calidad"})
    assert sara.get(f"/tickets/{ticket_id}").status_code == 200
    sara_id = queue.agent_by_username("sara").id
    assert [(e.agent_id, e.detail) for e in queue.audit_entries(ticket_id)
            if e.action == "closed_case_read"] == [(sara_id, "motivo: revisión de calidad")]


# ------------------------------------------------------------ second factor (TOTP)
def _code(secret: str, clock: Clock, steps: int = 0) -> str:
    moment = clock.now.replace(tzinfo=timezone.utc).timestamp() + 30 * steps
    return pyotp.TOTP(secret).at(moment)


def _enrol(client: httpx.Client, clock: Clock) -> str:
    page = client.get("/account/totp")
    secret = re.search(r'id="totp-secret">([^<]+)<', page.text).group(1).replace(" ", "")
    assert f"secret={secret}" in page.text  # the otpauth:// URI
    wrong = client.post("/account/totp", data={"csrf_token": csrf_from(page.text),
                                               "code": "000000"})
    assert wrong.status_code == 400 and 'id="totp-error"' in wrong.text
    done = client.post("/account/totp", data={"csrf_token": csrf_from(page.text),
                                              "code": _code(secret, clock)})
    assert done.status_code == 303 and done.headers["location"] == "/?msg=totp_enabled"
    return secret


def _login_with(running: RunningConsole, username: str, code: str | None) -> int:
    client = httpx.Client(base_url=running.url)
    token = csrf_from(client.get("/login").text)
    data = {"username": username, "password": PASSWORD, "csrf_token": token}
    if code is not None:
        data["code"] = code
    return client.post("/login", data=data).status_code


def test_totp_is_required_for_supervisors_by_default() -> None:
    assert Settings.from_env({}).totp_supervisors is True
    assert Settings.from_env({"CONSOLE_TOTP_SUPERVISORS": "0"}).totp_supervisors is False


def test_a_supervisor_enrols_then_needs_the_code(queue, fake_rasa, start, clock) -> None:
    running = start(queue, fake_rasa, console_settings(fake_rasa, totp_supervisors=True),
                    clock=clock)
    make_agent(queue, "sara", "supervisor")
    sara = httpx.Client(base_url=running.url)
    assert _attempt(sara, "sara", PASSWORD).status_code == 303
    assert sara.get("/").headers["location"] == "/account/totp?msg=totp_required"
    assert sara.get("/api/queue").status_code == 403
    secret = _enrol(sara, clock)
    assert sara.get("/").status_code == 200
    assert any(e.action == "totp_enabled" for e in queue.audit_entries())
    clock.advance(60)
    assert _login_with(running, "sara", None) == 401
    wrong = f"{(int(_code(secret, clock)) + 1) % 1_000_000:06d}"
    assert _login_with(running, "sara", wrong) == 401
    code = _code(secret, clock)
    assert _login_with(running, "sara", code) == 303
    assert _login_with(running, "sara", code) == 401  # a code works once
    clock.advance(30)
    assert _login_with(running, "sara", f" {_code(secret, clock)[:3]} "
                       f"{_code(secret, clock)[3:]}") == 303
    assert [e.detail for e in queue.audit_entries() if e.action == "login"][0] == "second factor"
    # a specialist is not asked to enrol, and her login needs no code
    ana = _logged_in(running)
    assert ana.get("/").status_code == 200


def test_a_reset_removes_a_specialists_second_factor(queue, fake_rasa, start, clock) -> None:
    running = start(queue, fake_rasa, clock=clock)
    ana = _logged_in(running)
    secret = _enrol(ana, clock)
    assert _login_with(running, "ana", None) == 401
    assert _login_with(running, "ana", _code(secret, clock, 1)) == 303
    make_agent(queue, "sara", "supervisor")
    sara = httpx.Client(base_url=running.url)
    assert _attempt(sara, "sara", PASSWORD).status_code == 303
    ana_id = queue.agent_by_username("ana").id
    page = sara.post(f"/accounts/{ana_id}/reset", data={"csrf_token": page_csrf(sara)})
    one_time = re.search(r'id="one-time-code">([^<]+)<', page.text).group(1)
    client = httpx.Client(base_url=running.url)
    answer = client.post("/login", data={"username": "ana", "password": one_time,
                                         "csrf_token": csrf_from(client.get("/login").text)})
    assert answer.status_code == 303  # no code asked: she enrols again if she wants
