"""The channel as Rasa loads it: class path from credentials.yml, route, HTTP API output."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace

from channel_helpers import http_client, load_fixture
from rasa.core.channels.channel import UserMessage, register
from rasa.core.run import _create_single_channel
from sanic import Sanic

from channels.whatsapp import WhatsAppInput, WhatsAppOutput
from simulator import webhooks as wh
from simulator.serving import serve


class FakeAgent:
    def __init__(self) -> None:
        self.messages: list[UserMessage] = []

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)


async def test_loaded_from_credentials_and_served_on_rasas_route() -> None:
    channel = _create_single_channel("channels.whatsapp.WhatsAppInput", None)
    assert isinstance(channel, WhatsAppInput)
    app = Sanic(f"rasa_like_{uuid.uuid4().hex[:10]}", configure_logging=False)
    agent = FakeAgent()
    app.ctx.agent = agent
    register([channel], app, route="/webhooks/")
    body = wh.encode(load_fixture("text", fresh=True))
    async with serve(app) as url:
        async with http_client() as client:
            health = await client.get(f"{url}/webhooks/whatsapp/")
            answer = await client.post(f"{url}/webhooks/whatsapp/webhook", content=body,
                                       headers={wh.SIGNATURE_HEADER: wh.sign(body)})
        assert health.json() == {"status": "ok"}
        assert answer.status_code == 200
        for _ in range(200):  # the turn runs from the inbox
            if agent.messages:
                break
            await asyncio.sleep(0.02)
    assert [m.text for m in agent.messages] == ["Hola, necesito ayuda"]


def test_rasa_http_api_finds_the_output_channel() -> None:
    from rasa.server import _get_output_channel

    channel = WhatsAppInput()
    request = SimpleNamespace(args={"output_channel": "whatsapp"},
                              app=SimpleNamespace(ctx=SimpleNamespace(input_channels=[channel])))
    output = _get_output_channel(request, None)
    assert isinstance(output, WhatsAppOutput)
    assert output.graph is channel.graph  # one shared HTTP client
    assert output.turn_digest is None  # API messages are not part of a turn
