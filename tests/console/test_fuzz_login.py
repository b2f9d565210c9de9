"""Fuzzing the console's login form (hypothesis, derandomised): whatever is typed or posted,
the answer is a redirect or a refusal, never a 5xx, and nobody gets in without the password."""

from __future__ import annotations

import httpx
from conftest import PASSWORD, csrf_from, make_agent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(max_examples=20, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
fields = st.text(max_size=80) | st.sampled_from(["ana", "", " ", "ana\x00", "%00", "\U0001F600",
                                                 "a" * 5000])
ascii_fields = st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=80)


@FUZZ
@given(username=fields, password=fields, csrf=st.booleans() | ascii_fields, extra=fields)
def test_the_login_form_never_answers_5xx(console, username, password, csrf, extra) -> None:
    if not console.queue.agent_by_username("ana"):
        make_agent(console.queue, "ana")
    with httpx.Client(base_url=console.url, follow_redirects=False, timeout=10) as client:
        token = csrf_from(client.get("/login").text)
        data = {"username": username, "password": password, extra[:20] or "x": extra,
                "csrf_token": token if csrf is True else ("" if csrf is False else csrf)}
        answer = client.post("/login", data=data)
    assert answer.status_code in (303, 401, 403, 429), answer.status_code
    if answer.status_code == 303:
        assert username.strip() == "ana" and password == PASSWORD


def test_a_non_ascii_csrf_token_is_refused_not_a_500(console) -> None:
    with httpx.Client(base_url=console.url, follow_redirects=False, timeout=10) as client:
        client.get("/login")
        answer = client.post("/login", data={"username": "ana", "password": "x",
                                             "csrf_token": "\u00f1"})
    assert answer.status_code == 403, answer.status_code


@settings(FUZZ, max_examples=30)
@given(body=st.binary(max_size=400),
       content_type=st.sampled_from(["application/x-www-form-urlencoded",
                                     "multipart/form-data; boundary=x", "text/plain", ""]))
def test_raw_bodies_on_the_login_form_never_answer_5xx(console, body, content_type) -> None:
    with httpx.Client(base_url=console.url, timeout=10) as client:
        answer = client.post("/login", content=body,
                             headers={"Content-Type": content_type} if content_type else {})
    assert answer.status_code < 500, answer.status_code
