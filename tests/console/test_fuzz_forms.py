"""Fuzzing the console's casework, supervision and account forms (hypothesis, derandomised):
whatever a signed-in supervisor's browser posts — any text, any field, any option value — the
answer is a page or a redirect, never a 5xx. The login form has its own file."""

from __future__ import annotations

import httpx
import pytest
from conftest import login, make_agent, page_csrf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff.priority import RISK

PHONE = "56944445555"
FUZZ = settings(max_examples=40, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
values = st.text(max_size=60) | st.sampled_from(
    ["", " ", "\x00", "a" * 5000, "\U0001F600", "-1", "999999999999999999999", "1e309",
     "<script>", "nan", "emergencia_derivada", "on", "1"])
FIELDS = ("text", "outcome", "tags", "send_goodbye", "canned", "confirm_unsafe", "agent_id",
          "reason", "username", "role", "password", "new_password", "confirm")


@pytest.fixture
def supervisor(console, fake_rasa) -> tuple[httpx.Client, int]:
    make_agent(console.queue, "sara", role="supervisor")
    make_agent(console.queue, "dana")
    fake_rasa.trackers[PHONE] = {"sender_id": PHONE, "paused": True, "events": []}
    ticket = console.queue.open_ticket(PHONE, "risk", RISK, "violencia_fisica")
    client = login(console, "sara")
    client.post(f"/tickets/{ticket.id}/claim", data={"csrf_token": page_csrf(client)})
    yield client, ticket.id
    client.close()


def _paths(ticket_id: int) -> list[str]:
    return [f"/tickets/{ticket_id}/{action}" for action in
            ("reply", "notes", "transfer", "close", "read-closed", "follow-up", "release",
             "erase", "claim")] + [
        f"/supervision/tickets/{ticket_id}/assign", "/accounts", "/accounts/2/reset",
        "/accounts/2/clear-failures", "/password"]


@FUZZ
@given(path_index=st.integers(min_value=0, max_value=13),
       fields=st.dictionaries(st.sampled_from(FIELDS), values, max_size=6))
def test_casework_and_account_forms_never_answer_5xx(supervisor, path_index, fields) -> None:
    client, ticket_id = supervisor
    path = _paths(ticket_id)[path_index]
    answer = client.post(path, data={**fields, "csrf_token": page_csrf(client)})
    assert answer.status_code < 500, (path, answer.status_code)


@FUZZ
@given(body=st.binary(max_size=300),
       content_type=st.sampled_from(["application/x-www-form-urlencoded",
                                     "multipart/form-data; boundary=x", "text/plain", ""]))
def test_raw_bodies_on_a_case_form_never_answer_5xx(supervisor, body, content_type) -> None:
    client, ticket_id = supervisor
    headers = {"Content-Type": content_type} if content_type else {}
    answer = client.post(f"/tickets/{ticket_id}/notes", content=body, headers=headers)
    assert answer.status_code < 500, answer.status_code
