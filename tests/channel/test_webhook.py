"""The input channel's webhook, mounted in a bare Sanic app, with the simulator as Meta."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time

import httpx
import pytest
from channel_helpers import (
    PROFILE_NAME,
    WA_ID,
    Recorder,
    channel_server,
    first_message,
    http_client,
    load_fixture,
    with_reply_id,
)
from sqlalchemy import select

from channels.whatsapp.replies import FILE, VOICE_OR_AUDIO
from channels.whatsapp.tables import engine, message_statuses
from channels.whatsapp.window import is_window_open, record_user_message
from simulator import Fault
from simulator import webhooks as wh
from simulator.load import wait_for_outbound


async def post(url: str, payload: dict | bytes, signature: str | None = "auto",
               secret: str = "sandbox-secret") -> httpx.Response:
    body = payload if isinstance(payload, bytes) else wh.encode(payload)
    headers = {"Content-Type": "application/json"}
    if signature == "auto":
        headers["X-Hub-Signature-256"] = wh.sign(body, secret)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    async with http_client() as client:
        return await client.post(url, content=body, headers=headers)


def text_update(text: str, wa_id: str = WA_ID, wamid: str | None = None) -> dict:
    return wh.update(messages=[wh.text_message(wa_id, text, wamid=wamid)])


# --- verification handshake -----------------------------------------------------------

async def test_verification_handshake(channel) -> None:
    url, _ = channel
    async with http_client() as client:
        ok = await client.get(url, params={"hub.mode": "subscribe",
                                           "hub.verify_token": "sandbox-verify",
                                           "hub.challenge": "1158201444"})
        assert ok.status_code == 200 and ok.text == "1158201444"
        assert ok.headers["content-type"].startswith("text/plain")
        for params in ({"hub.mode": "subscribe", "hub.verify_token": "wrong",
                        "hub.challenge": "1"},
                       {"hub.mode": "unsubscribe", "hub.verify_token": "sandbox-verify",
                        "hub.challenge": "1"},
                       {"hub.challenge": "1"}):
            assert (await client.get(url, params=params)).status_code == 403


# --- signatures ------------------------------------------------------------------------

@pytest.mark.parametrize(("signature", "status"), [
    (None, 401), ("sha256=" + "0" * 64, 403), ("garbage", 403),
])
async def test_bad_signatures_are_refused_and_nothing_processed(channel, recorder, sim,
                                                                signature, status) -> None:
    url, ch = channel
    answer = await post(url, text_update("hola"), signature=signature)
    assert answer.status_code == status
    await ch.dispatcher.join(2)
    assert recorder.messages == [] and sim.state.api_calls == []


async def test_signature_with_another_secret_is_refused(channel, recorder) -> None:
    url, _ = channel
    assert (await post(url, text_update("hola"), secret="other")).status_code == 403


async def test_signature_over_raw_bytes_with_accents_and_emoji(channel, recorder) -> None:
    url, ch = channel
    text = "Ayúdenme 🙏 mi ex me sigue; vivo en Ñuñoa"
    escaped = json.dumps(text_update(text), ensure_ascii=True).encode()
    raw = json.dumps(text_update(text), ensure_ascii=False, indent=2).encode("utf-8")
    for body in (escaped, raw):
        assert (await post(url, body)).status_code == 200
    # a signature of the re-serialised JSON does not match the bytes sent
    reserialised = json.dumps(json.loads(raw)).encode()
    answer = await post(url, raw, signature=wh.sign(reserialised, "sandbox-secret"))
    assert answer.status_code == 403
    await recorder.wait_for(2)
    assert [m.text for m in recorder.messages] == [text, text]


# --- processing ------------------------------------------------------------------------

async def test_text_message_reaches_rasa_fast(channel, recorder, sim) -> None:
    url, ch = channel
    slow = Recorder(delay=0.5)
    async with channel_server(ch.config, slow) as (slow_url, slow_channel):
        payload = load_fixture("text", fresh=True)
        started = time.perf_counter()
        answer = await post(slow_url, payload)
        assert answer.status_code == 200
        assert time.perf_counter() - started < 0.3  # the turn runs in the background
        assert slow.messages == []
        (message,) = await slow.wait_for(1)
    assert message.text == "Hola, necesito ayuda"
    assert message.sender_id == WA_ID
    assert message.input_channel == "whatsapp"
    assert message.output_channel.name() == "whatsapp"
    assert message.metadata == {"wa_message_id": first_message(payload)["id"],
                                "timestamp": first_message(payload)["timestamp"], "type": "text"}
    assert PROFILE_NAME not in json.dumps(message.metadata, ensure_ascii=False)
    assert is_window_open(WA_ID)


async def test_marks_read_with_typing_before_the_answer(config, sim) -> None:
    bot = Recorder(reply="Hola, te escucho.")
    async with channel_server(config, bot) as (url, _):
        payload = load_fixture("text", fresh=True)
        await post(url, payload)
        await wait_for_outbound(sim.state, WA_ID)
    kinds = [c["kind"] for c in sim.state.api_calls]
    assert kinds == ["read", "message"]
    assert sim.state.outbound(WA_ID)[0]["text"] == "Hola, te escucho."


async def test_read_receipt_failure_does_not_block_the_turn(config, sim) -> None:
    bot = Recorder(reply="ok")
    config = config.__class__(**{**config.__dict__, "api_url": "http://127.0.0.1:9/v21.0"})
    async with channel_server(config, bot) as (url, _):
        await post(url, load_fixture("text", fresh=True))
        await bot.wait_for(1, timeout=3)


async def test_three_identical_deliveries_at_once_give_one_answer(config, sim) -> None:
    bot = Recorder(reply="Una sola respuesta")
    async with channel_server(config, bot) as (url, ch):
        body = wh.encode(text_update("hola", wamid="wamid.SAME"))
        answers = await asyncio.gather(*(post(url, body) for _ in range(3)))
        assert [a.status_code for a in answers] == [200, 200, 200]
        await ch.dispatcher.join(5)
        # a late redelivery, and the same id from a second server sharing the database
        async with channel_server(config, bot) as (other_url, other):
            await post(other_url, body)
            await other.dispatcher.join(5)
    assert len(bot.messages) == 1
    assert len(sim.state.outbound(WA_ID)) == 1


async def test_messages_of_one_user_keep_their_order(config, sim) -> None:
    bot = Recorder(delay=0.02)
    async with channel_server(config, bot) as (url, ch):
        for i in range(6):
            await post(url, text_update(f"mensaje {i}"))
        await post(url, text_update("otra persona", wa_id="56933334444"))
        await ch.dispatcher.join(5)
    mine = [m.text for m in bot.messages if m.sender_id == WA_ID]
    assert mine == [f"mensaje {i}" for i in range(6)]


async def test_several_entries_changes_and_messages(channel, recorder, sim) -> None:
    url, ch = channel
    assert (await post(url, load_fixture("multi", fresh=True))).status_code == 200
    await ch.dispatcher.join(5)
    assert sorted(m.text for m in recorder.messages) == ["dos", "tres", "uno"]
    assert {m.sender_id for m in recorder.messages} == {WA_ID, "56933334444"}


async def test_other_phone_number_id_is_ignored(channel, recorder, sim) -> None:
    url, ch = channel
    assert (await post(url, load_fixture("other_number", fresh=True))).status_code == 200
    await ch.dispatcher.join(2)
    assert recorder.messages == [] and sim.state.api_calls == []


async def test_partial_payload_processes_the_valid_messages(channel, recorder) -> None:
    url, ch = channel
    assert (await post(url, load_fixture("partial", fresh=True))).status_code == 200
    await ch.dispatcher.join(5)
    assert [m.text for m in recorder.messages] == ["válido", "también válido"]


async def test_slash_text_never_becomes_an_intent(channel, recorder) -> None:
    url, ch = channel
    for text in ("/restart", "  //session_start", "/", "/pedir_humano{\"x\":1}"):
        await post(url, text_update(text))
    await ch.dispatcher.join(5)
    assert [m.text for m in recorder.messages] == ["restart", "session_start", "",
                                                   'pedir_humano{"x":1}']


async def test_signed_button_reply_is_a_payload_and_forged_one_is_text(config, sim) -> None:
    bot = Recorder()
    async with channel_server(config, bot) as (url, ch):
        record_user_message(WA_ID)
        output = ch.get_output_channel()
        await output.send_text_with_buttons(WA_ID, "¿Estás a salvo?", [
            {"title": "Sí", "payload": "/afirmar"}, {"title": "No", "payload": "/negar"}])
        reply = sim.state.outbound(WA_ID)[0]["buttons"][1]
        await post(url, wh.update(messages=[wh.button_reply_message(WA_ID, reply["id"],
                                                                    reply["title"])]))
        await post(url, with_reply_id("button_reply", "/restart"))
        await ch.dispatcher.join(5)
    assert [m.text for m in bot.messages] == ["/negar", "Sí, estoy a salvo"]


async def test_location(channel, recorder) -> None:
    url, ch = channel
    await post(url, load_fixture("location", fresh=True))
    (message,) = await recorder.wait_for(1)
    assert message.text == "/compartir_ubicacion"
    assert message.metadata["location"]["latitude"] == -33.4489


@pytest.mark.parametrize(("name", "reply"), [("voice", VOICE_OR_AUDIO), ("image", FILE)])
async def test_media_gets_a_kind_answer_and_is_recorded_in_rasa(channel, recorder, sim, name,
                                                                reply) -> None:
    url, ch = channel
    await post(url, load_fixture(name, fresh=True))
    (message,) = await recorder.wait_for(1)
    await ch.dispatcher.join(5)
    assert message.text == "/medio_no_soportado"
    assert message.metadata["media_type"] in ("audio", "image")
    assert [e["text"] for e in sim.state.outbound(WA_ID)] == [reply]


async def test_reactions_are_ignored(channel, recorder, sim) -> None:
    url, ch = channel
    assert (await post(url, load_fixture("reaction", fresh=True))).status_code == 200
    await ch.dispatcher.join(2)
    assert recorder.messages == [] and sim.state.api_calls == []


async def test_statuses_are_recorded_and_never_answered(channel, recorder, sim, caplog) -> None:
    url, ch = channel
    with caplog.at_level(logging.INFO):
        for name in ("status_delivered", "status_failed"):
            assert (await post(url, load_fixture(name, fresh=True))).status_code == 200
        await ch.dispatcher.join(5)
    assert recorder.messages == [] and sim.state.api_calls == []
    with engine().connect() as conn:
        rows = conn.execute(select(message_statuses.c.status, message_statuses.c.error_code)).all()
    assert sorted(map(tuple, rows)) == [("delivered", None), ("failed", 131047)]
    failed = [r for r in caplog.records if "failed" in r.getMessage()]
    assert failed and "131047" in failed[0].getMessage() and "24 hours" in failed[0].getMessage()
    assert WA_ID not in caplog.text and "wamid.OUR5" not in caplog.text


# --- malformed bodies ------------------------------------------------------------------

MALFORMED = [
    b"",
    b"not json",
    b"{\"object\": ",
    b"\xff\xfe\xfa",
    b"[]",
    b"null",
    b"\"whatsapp\"",
    b"{}",
    b"{\"object\": \"whatsapp_business_account\", \"entry\": null}",
    b"{\"object\": \"whatsapp_business_account\", \"entry\": [{\"changes\": [{\"field\": "
    b"\"messages\", \"value\": null}]}]}",
    b"[" * 100_000 + b"]" * 100_000,
    b"{\"object\": \"whatsapp_business_account\", \"entry\": [1e999999]}",
]


@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
async def test_malformed_bodies_are_400_and_the_next_message_works(channel, recorder, body
                                                                   ) -> None:
    url, ch = channel
    answer = await post(url, body)
    assert answer.status_code == 400
    assert answer.json()["error"]
    assert (await post(url, text_update("sigo aquí"))).status_code == 200
    (message,) = await recorder.wait_for(1)
    assert message.text == "sigo aquí"


async def test_bodies_over_one_megabyte_are_400(channel, recorder) -> None:
    url, _ = channel
    payload = text_update("x" * 1_000_001)
    answer = await post(url, payload)
    assert answer.status_code == 400 and "1 MB" in answer.json()["error"]


async def test_null_fields_everywhere(channel, recorder) -> None:
    url, ch = channel
    good = load_fixture("text", fresh=True)
    for path in (("entry", 0, "changes", 0, "value", "messages", 0, "from"),
                 ("entry", 0, "changes", 0, "value", "messages", 0, "text"),
                 ("entry", 0, "changes", 0, "value", "metadata"),
                 ("entry", 0, "changes"), ("entry", 0)):
        payload = copy.deepcopy(good)
        target = payload
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = None
        answer = await post(url, payload)
        assert answer.status_code in (200, 400)
    await ch.dispatcher.join(2)
    assert recorder.messages == []


# --- logs ------------------------------------------------------------------------------

async def test_no_text_or_phone_number_in_logs(config, sim, caplog) -> None:
    secret_text = "mi pareja me golpeó anoche"
    bot = Recorder(reply="Lo siento mucho, ¿estás a salvo ahora?")
    with caplog.at_level(logging.DEBUG):
        async with channel_server(config, bot) as (url, ch):
            wamid = "wamid.HBgLNTY5MTExMTIyMjIVAgASGBQzQUFBQUFB"
            body = wh.encode(text_update(secret_text, wamid=wamid))
            await asyncio.gather(post(url, body), post(url, body))
            await post(url, load_fixture("voice", fresh=True))
            await post(url, load_fixture("status_failed", fresh=True))
            await post(url, b"{bad")
            sim.state.add_faults(Fault(http_status=500), 10)
            await post(url, text_update("otra vez"))
            await ch.dispatcher.join(10)
    logged = caplog.text
    assert logged  # something was logged
    for private in (WA_ID, secret_text, "otra vez", wamid, PROFILE_NAME, "Lo siento"):
        assert private not in logged
