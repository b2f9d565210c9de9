"""The action server (actions/server.py): the shared secret, and a 500 that echoes nothing."""

from __future__ import annotations

import logging
import sys
import uuid

import httpx
import pytest
from rasa_sdk import Action

from actions import server
from simulator.serving import serve

TOKEN = "s3cret-token-for-tests-0123456789"
HER_TEXT = "mi pololo me quito el celular"
HER_NUMBER = "56987654321"


class ActionThatRaises(Action):
    def name(self) -> str:
        return "action_that_raises_for_tests"

    async def run(self, dispatcher, tracker, domain):
        raise ValueError(f"could not handle {tracker.latest_message.get('text')}")


def call(action: str = "action_that_raises_for_tests") -> dict:
    return {"next_action": action, "sender_id": HER_NUMBER, "version": "3.6.21",
            "tracker": {"sender_id": HER_NUMBER, "slots": {}, "events": [],
                        "latest_message": {"text": HER_TEXT, "intent": {}, "entities": []},
                        "latest_action_name": "action_listen", "paused": False,
                        "followup_action": None, "active_loop": {}},
            "domain": {}}


def app():
    built = server.create_app(sys.modules[__name__], TOKEN)
    built.name = f"actions_test_{uuid.uuid4().hex[:8]}"
    return built


async def test_requests_without_the_right_token_are_refused() -> None:
    async with serve(app()) as url, httpx.AsyncClient() as client:
        health = await client.get(f"{url}/health")
        missing = await client.post(f"{url}/webhook", json=call("action_listen_x"))
        wrong = await client.post(f"{url}/webhook", json=call(),
                                  headers={server.TOKEN_HEADER: TOKEN[:-1] + "x"})
        listing = await client.get(f"{url}/actions")
        listed = await client.get(f"{url}/actions", headers={server.TOKEN_HEADER: TOKEN})
    assert health.status_code == 200
    assert (missing.status_code, wrong.status_code, listing.status_code) == (401, 401, 401)
    assert listed.status_code == 200
    assert {"name": "action_that_raises_for_tests"} in listed.json()


async def test_an_action_that_raises_answers_500_without_her_tracker(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    async with serve(app()) as url, httpx.AsyncClient() as client:
        answer = await client.post(f"{url}/webhook", json=call(),
                                   headers={server.TOKEN_HEADER: TOKEN})
    assert answer.status_code == 500
    assert answer.json() == {"error": "internal error"}
    assert HER_TEXT not in answer.text and HER_NUMBER not in answer.text
    assert "action_that_raises_for_tests raised ValueError" in caplog.text
    assert HER_TEXT not in caplog.text and HER_NUMBER not in caplog.text


def test_without_a_token_real_mode_refuses_and_sandbox_makes_one() -> None:
    with pytest.raises(server.ActionServerConfigError):
        server.configured_token({"WHATSAPP_ACCESS_TOKEN": "EAAG-real"})
    with pytest.raises(server.ActionServerConfigError):
        server.configured_token({"WHATSAPP_ACCESS_TOKEN": "EAAG-real",
                                 server.TOKEN_ENV: "short"})
    first, second = server.configured_token({}), server.configured_token({})
    assert first != second and len(first) >= 32
    assert server.configured_token({server.TOKEN_ENV: TOKEN}) == TOKEN


def test_token_comparison() -> None:
    assert server.token_matches(TOKEN, TOKEN)
    assert not server.token_matches(None, TOKEN)
    assert not server.token_matches("", TOKEN)
    assert not server.token_matches(TOKEN + "x", TOKEN)
    assert not server.token_matches("\udcff", TOKEN)


def test_binds_loopback_by_default() -> None:
    assert server.bind_host({}) == "127.0.0.1"
    assert server.bind_host({"BIND_HOST": "0.0.0.0"}) == "0.0.0.0"
    assert server.bind_host({"SANIC_HOST": "10.0.0.2", "BIND_HOST": "0.0.0.0"}) == "10.0.0.2"
