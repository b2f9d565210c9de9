"""The one Rasa HTTP API client (console and escalation broker)."""

from __future__ import annotations

import json

import httpx
import pytest

from handoff.rasa_api import RasaAPI, RasaError


class Rasa:
    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.statuses.pop(0) if self.statuses else 200
        if request.url.path == "/domain":
            return httpx.Response(status, json={"responses": {
                "utter_cierre_especialista": [{"text": "Gracias por escribirnos."}],
                "utter_botones": [{"buttons": []}]}})
        return httpx.Response(status, json={"events": [], "paused": True})


def client(rasa: Rasa, retries: int = 3) -> RasaAPI:
    return RasaAPI("http://rasa.test:5005/", "s3cret", transport=httpx.MockTransport(rasa),
                   retries=retries)


async def test_bot_message_through_an_output_channel() -> None:
    rasa = Rasa()
    api = client(rasa)
    await api.post_bot_message("+56 9 1111", "Hola", "latest", {"source": "handoff_escalation"})
    [request] = rasa.requests
    assert request.url.raw_path.split(b"?")[0] == b"/conversations/%2B56%209%201111/tracker/events"
    assert dict(request.url.params) == {"output_channel": "latest",
                                        "execute_side_effects": "true", "token": "s3cret"}
    body = json.loads(request.content)
    assert (body["event"], body["text"], body["metadata"]) == (
        "bot", "Hola", {"source": "handoff_escalation"})
    await api.close()


async def test_tracker_with_all_events_and_execute() -> None:
    rasa = Rasa()
    api = client(rasa)
    await api.tracker("c1", all_events=True)
    await api.tracker("c1")
    await api.execute_action("c1", "utter_salir", "whatsapp")
    assert rasa.requests[0].url.params["include_events"] == "ALL"
    assert "include_events" not in rasa.requests[1].url.params
    assert rasa.requests[2].url.path == "/conversations/c1/execute"
    assert json.loads(rasa.requests[2].content) == {"name": "utter_salir"}
    assert rasa.requests[2].url.params["output_channel"] == "whatsapp"


async def test_transient_failures_are_retried_and_refusals_are_not() -> None:
    rasa = Rasa([503, 200])
    await client(rasa).pause("c1")
    assert len(rasa.requests) == 2
    refused = Rasa([404])
    with pytest.raises(RasaError) as error:
        await client(refused).resume("c1")
    assert error.value.status == 404 and len(refused.requests) == 1
    down = Rasa([500, 500, 500])
    with pytest.raises(RasaError):
        await client(down).pause("c1")
    assert len(down.requests) == 3


async def test_responses_come_from_the_served_domain() -> None:
    rasa = Rasa()
    api = client(rasa)
    assert await api.response_text("utter_cierre_especialista") == "Gracias por escribirnos."
    assert await api.response_text("utter_cierre_especialista") == "Gracias por escribirnos."
    assert len(rasa.requests) == 1  # cached for a minute
    with pytest.raises(RasaError):
        await api.response_text("utter_botones")  # no text variation
    assert rasa.requests[0].headers["accept"] == "application/json"
