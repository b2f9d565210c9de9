"""Simulator → channel → (fake) bot → Graph API → simulator, as `make run` wires them."""

from __future__ import annotations

from typing import Any

from channel_helpers import FAST, channel_server, http_client, settle
from rasa.core.channels.channel import UserMessage

from channels.whatsapp.config import WhatsAppConfig
from simulator.load import wait_for_outbound
from simulator.serving import bind, running_simulator

USER = "56977778888"


class FakeBot:
    """Asks a question with buttons, then answers the payload it gets back."""

    def __init__(self) -> None:
        self.received: list[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        out = message.output_channel
        if message.text == "/negar":
            await out.send_text_message(message.sender_id, "Te conecto con una especialista.")
        elif message.text == "/medio_no_soportado":  # the domain's utter_solo_texto
            await out.send_text_message(message.sender_id, "Por ahora solo puedo leer mensajes "
                                        "escritos.")
        else:
            await out.send_text_with_buttons(message.sender_id, "¿Estás a salvo ahora?", [
                {"title": "Sí", "payload": "/afirmar"}, {"title": "No", "payload": "/negar"}])


async def send(sim: Any, **body: Any) -> dict:
    async with http_client() as client:
        answer = await client.post(f"{sim.url}/_sim/send", json={"wa_id": USER, **body})
    assert answer.status_code == 200 and answer.json()["webhook_status"] == 200, answer.text
    return answer.json()


async def test_conversation_through_the_simulator() -> None:
    sock = bind()
    webhook = f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/whatsapp/webhook"
    bot = FakeBot()
    async with running_simulator(webhook_url=webhook) as sim:
        config = WhatsAppConfig(**{**WhatsAppConfig.sandbox_defaults(
            api_url=sim.api_url).__dict__, "tuning": FAST})
        async with channel_server(config, bot, sock=sock) as (_, channel):
            await send(sim, text="/restart hola")
            (question,) = await wait_for_outbound(sim.state, USER)
            assert [b["title"] for b in question["buttons"]] == ["Sí", "No"]

            no = question["buttons"][1]
            await send(sim, type="button_reply", id=no["id"], title=no["title"])
            await wait_for_outbound(sim.state, USER, after=question["seq"])

            await send(sim, type="voice")
            await wait_for_outbound(sim.state, USER, count=3)
            await settle(channel)
    assert [m.text for m in bot.received] == ["restart hola", "/negar", "/medio_no_soportado"]
    shown = [e["text"] for e in sim.state.events(USER) if e["direction"] == "out"]
    assert shown[1] == "Te conecto con una especialista."
    assert shown[2].startswith("Por ahora solo puedo leer mensajes escritos.")
    inbound = [e for e in sim.state.events(USER) if e["direction"] == "in"]
    assert all(e.get("read") and not e.get("typing") for e in inbound)
