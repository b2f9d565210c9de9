"""The output channel → outbox → sender → the simulator, which checks every message like
Meta does."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest
from channel_helpers import Recorder, channel_server, outbox_rows, settle

from channels.whatsapp.config import WhatsAppConfig
from channels.whatsapp.input import WhatsAppInput
from channels.whatsapp.output import WhatsAppOutput
from channels.whatsapp.payloads import verify_payload
from channels.whatsapp.window import WINDOW_SECONDS, record_user_message
from simulator.serving import RunningSimulator
from simulator.state import Fault

USER = "56911112222"


class Running:
    """An output channel of a running channel instance; ``sent()`` settles the outbox."""

    def __init__(self, channel: WhatsAppInput, sim: RunningSimulator) -> None:
        self.channel, self.sim = channel, sim
        self.output: WhatsAppOutput = channel.get_output_channel()

    def __getattr__(self, name: str):
        return getattr(self.output, name)


@asynccontextmanager
async def running(config: WhatsAppConfig, sim: RunningSimulator,
                  **changes: object) -> AsyncIterator[Running]:
    config = WhatsAppConfig(**{**config.__dict__, **changes})
    async with channel_server(config, Recorder()) as (_, channel):
        yield Running(channel, sim)


@pytest.fixture
async def output(config: WhatsAppConfig, sim: RunningSimulator) -> AsyncIterator[Running]:
    record_user_message(USER)  # the user wrote just now: the window is open
    async with running(config, sim) as out:
        yield out


async def delivered(out: Running) -> list[dict]:
    await settle(out.channel)
    return [e["message"] for e in out.sim.state.outbound(USER)]


def sent(sim: RunningSimulator) -> list[dict]:
    return [e["message"] for e in sim.state.outbound(USER)]


def refused(sim: RunningSimulator) -> list[dict]:
    return [c for c in sim.state.api_calls if c["status"] != 200]


async def test_text(sim, output) -> None:
    await output.send_response(USER, {"text": "Hola, estoy aquí para ayudarte."})
    (message,) = await delivered(output)
    (row,) = outbox_rows()
    assert message == {"messaging_product": "whatsapp", "recipient_type": "individual",
                       "to": USER, "type": "text",
                       "text": {"body": "Hola, estoy aquí para ayudarte."},
                       "biz_opaque_callback_data": f"ob.{row.id}"}
    assert row.state == "sent" and row.payload is None and row.recipient is None


async def test_long_text_is_split(sim, config) -> None:
    text = "\n\n".join(f"Párrafo {i}. " + "palabra " * 300 for i in range(8))
    record_user_message(USER)
    tuning = replace(config.tuning, pair_burst=20)  # all parts at once: not pacing here
    async with running(config, sim, tuning=tuning) as output:
        await output.send_text_message(USER, text)
        bodies = [m["text"]["body"] for m in (await delivered(output))]
    assert len(bodies) > 1 and all(len(b) <= 4096 for b in bodies)
    assert " ".join(bodies).split() == text.split()
    assert not refused(sim)


async def test_three_buttons(sim, output) -> None:
    buttons = [{"title": "Sí, estoy a salvo", "payload": "/afirmar"},
               {"title": "No, necesito ayuda urgente ahora", "payload": "/negar"},
               {"title": "Hablar con una persona", "payload": '/pedir_humano{"via":"boton"}'}]
    await output.send_response(USER, {"text": "¿Estás a salvo?", "buttons": buttons})
    message = (await delivered(output))[0]
    assert not refused(sim)
    interactive = message["interactive"]
    assert interactive["type"] == "button" and interactive["body"]["text"] == "¿Estás a salvo?"
    replies = [b["reply"] for b in interactive["action"]["buttons"]]
    assert [r["title"] for r in replies] == ["Sí, estoy a salvo", "No, necesito ayuda…",
                                             "Hablar con una…"]
    assert [verify_payload(r["id"], USER, "sandbox-secret") for r in replies] == [
        b["payload"] for b in buttons]
    assert all(verify_payload(r["id"], "56900000000", "sandbox-secret") is None for r in replies)


@pytest.mark.parametrize("count", [4, 10])
async def test_four_to_ten_buttons_become_a_list(sim, output, count) -> None:
    buttons = [{"title": f"Región número {i} de Chile continental", "payload": f"/region{{\"n\":{i}}}"}
               for i in range(count)]
    await output.send_text_with_buttons(USER, "¿Dónde vives?", buttons)
    assert not refused(sim)
    interactive = (await delivered(output))[0]["interactive"]
    assert interactive["type"] == "list"
    assert interactive["action"]["button"] == "Ver opciones"
    rows = interactive["action"]["sections"][0]["rows"]
    assert len(rows) == count
    assert all(len(r["title"]) <= 24 and len(r["description"]) <= 72 for r in rows)
    assert rows[0]["description"] == "Región número 0 de Chile continental"
    assert verify_payload(rows[3]["id"], USER, "sandbox-secret") == '/region{"n":3}'


async def test_more_than_ten_buttons_become_numbered_text(sim, output) -> None:
    buttons = [{"title": f"Opción {i}", "payload": f"/o{i}"} for i in range(12)]
    await output.send_text_with_buttons(USER, "Elige:", buttons)
    body = (await delivered(output))[0]["text"]["body"]
    assert body.startswith("Elige:") and "1. Opción 0" in body and "12. Opción 11" in body


async def test_long_body_with_buttons_is_sent_as_text_first(sim, output) -> None:
    text = "Información importante. " * 60
    await output.send_text_with_buttons(USER, text, [{"title": "Entendido", "payload": "/ok"}])
    first, second = (await delivered(output))
    assert first["type"] == "text" and second["type"] == "interactive"
    assert second["interactive"]["body"]["text"] == "Elige una opción:"


async def test_too_long_payload_falls_back_to_title(sim, output, caplog) -> None:
    await output.send_text_with_buttons(USER, "¿?", [{"title": "Sí", "payload": "/" + "x" * 300}])
    reply = (await delivered(output))[0]["interactive"]["action"]["buttons"][0]["reply"]
    assert verify_payload(reply["id"], USER, "sandbox-secret") is None
    assert "too long to sign" in caplog.text


async def test_image(sim, output) -> None:
    await output.send_response(USER, {"image": "https://example.org/mapa.png"})
    assert (await delivered(output))[0]["image"] == {"link": "https://example.org/mapa.png"}


async def test_custom_json_template_passes_through_with_signed_quick_replies(sim, output) -> None:
    template = {"type": "template", "template": {
        "name": "retomar", "language": {"code": "es"},
        "components": [{"type": "button", "sub_type": "quick_reply", "index": "0",
                        "parameters": [{"type": "payload", "payload": "/retomar"}]}]}}
    await output.send_response(USER, {"custom": template})
    message = (await delivered(output))[0]
    assert message["type"] == "template" and message["template"]["name"] == "retomar"
    payload = message["template"]["components"][0]["parameters"][0]["payload"]
    assert verify_payload(payload, USER, "sandbox-secret") == "/retomar"


async def test_custom_json_without_type_is_not_sent(sim, output, caplog) -> None:
    await output.send_custom_json(USER, {"foo": "bar"})
    assert (await delivered(output)) == [] and "no WhatsApp message type" in caplog.text


async def test_failed_send_never_raises_and_is_recorded(sim, output) -> None:
    sim.state.add_faults(Fault(http_status=400, code=131026), 1)
    await output.send_text_message(USER, "hola")  # no exception
    await output.send_text_message(USER, "sigues ahí")
    assert [m["text"]["body"] for m in await delivered(output)] == ["sigues ahí"]
    failed, ok = outbox_rows()
    assert (failed.state, failed.error_code, ok.state) == ("failed", 131026, "sent")


async def test_storage_failure_never_raises_outside_a_turn(config, monkeypatch, caplog) -> None:
    output = WhatsAppOutput(config)
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nothing")
    await output.send_text_message(USER, "hola")  # no exception
    assert "NOT STORED" in caplog.text and USER not in caplog.text


async def test_window_closed_without_template_fails_without_calling_meta(sim, config,
                                                                        caplog) -> None:
    record_user_message(USER, time.time() - WINDOW_SECONDS - 60)
    with caplog.at_level(logging.WARNING):
        async with running(config, sim) as out:
            await out.send_text_message(USER, "¿Sigues ahí?")
            await settle(out.channel)
    assert sim.state.api_calls == []
    (row,) = outbox_rows()
    assert (row.state, row.error_code, row.failure_reason) == ("failed", 131047, "sin_plantilla")
    assert "NOT SENT" in caplog.text and "WHATSAPP_TEMPLATE_NAME" in caplog.text
    assert USER not in caplog.text and "Sigues" not in caplog.text


async def test_never_wrote_counts_as_closed(sim, config) -> None:
    async with running(config, sim) as out:
        await out.send_text_message(USER, "hola")
        await settle(out.channel)
    assert sim.state.api_calls == []


async def test_window_closed_with_template_sends_it_once(sim, config) -> None:
    record_user_message(USER, time.time() - WINDOW_SECONDS - 60)
    async with running(config, sim, template_name="retomar_conversacion") as out:
        await out.send_text_message(USER, "Hola de nuevo")
        await out.send_text_with_buttons(USER, "¿Seguimos?", [{"title": "Sí", "payload": "/s"}])
        messages = await delivered(out)
    assert len(messages) == 1
    assert messages[0]["template"] == {"name": "retomar_conversacion",
                                       "language": {"code": "es"}}
    assert [r.failure_reason for r in outbox_rows()] == [None, "plantilla_ya_enviada"]


async def test_templates_are_allowed_outside_the_window(sim, config) -> None:
    record_user_message(USER, time.time() - 3 * WINDOW_SECONDS)
    async with running(config, sim) as out:
        await out.send_custom_json(
            USER, {"type": "template", "template": {"name": "t", "language": {"code": "es"}}})
        assert len(await delivered(out)) == 1


async def test_an_open_window_is_read_once_and_a_closed_one_every_time(sim, config,
                                                                       monkeypatch) -> None:
    """Her last-message time only moves forward: while it is open the sender does not ask the
    database again; once closed, it asks each time (she may have written since)."""
    from channels.whatsapp import sender as sender_module

    reads: list[str] = []
    real = sender_module.last_user_message_at
    monkeypatch.setattr(sender_module, "last_user_message_at",
                        lambda who: reads.append(who) or real(who))
    record_user_message(USER)
    other = "56977776666"
    record_user_message(other, time.time() - WINDOW_SECONDS - 60)
    async with running(config, sim, template_name="retomar_conversacion") as out:
        for text in ("uno", "dos", "tres"):
            await out.send_text_message(USER, text)
        await out.send_text_message(other, "hola")
        await settle(out.channel)
        record_user_message(other)  # she wrote again: free-form messages may go
        await out.send_text_message(other, "gracias por escribir")
        await settle(out.channel)
    assert [m["text"]["body"] for m in sent(sim)] == ["uno", "dos", "tres"]
    assert reads.count(USER) == 1 and reads.count(other) == 2
    to_other = [e["message"] for e in sim.state.outbound(other)]
    assert to_other[0]["type"] == "template"
    assert to_other[1]["text"]["body"] == "gracias por escribir"
