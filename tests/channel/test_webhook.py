"""The input channel's webhook, mounted in a bare Sanic app, with the simulator as Meta: what
it answers, what it stores before answering, and what reaches the bot."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from pathlib import Path

import httpx
import pytest
from channel_helpers import (
    PROFILE_NAME,
    WA_ID,
    Recorder,
    channel_server,
    first_message,
    http_client,
    inbox_rows,
    load_fixture,
    outbox_rows,
    settle,
    with_reply_id,
)

from channels.whatsapp.inbox import InboxState
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


def text_update(text: str, wa_id: str = WA_ID, wamid: str | None = None,
                timestamp: int | None = None) -> dict:
    return wh.update(messages=[wh.text_message(wa_id, text, wamid=wamid, timestamp=timestamp)])


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
async def test_bad_signatures_are_refused_and_nothing_stored(channel, recorder, sim,
                                                             signature, status) -> None:
    url, _ = channel
    answer = await post(url, text_update("hola"), signature=signature)
    assert answer.status_code == status
    await asyncio.sleep(0.3)
    assert recorder.messages == [] and sim.state.api_calls == [] and inbox_rows() == []


async def test_signature_with_another_secret_is_refused(channel, recorder) -> None:
    url, _ = channel
    assert (await post(url, text_update("hola"), secret="other")).status_code == 403
    assert inbox_rows() == []


async def test_signature_over_raw_bytes_with_accents_and_emoji(channel, recorder) -> None:
    url, _ = channel
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


# --- a 200 is a promise ------------------------------------------------------------------

async def test_the_message_is_stored_sealed_before_the_200(config, sim) -> None:
    """The bot is slow; the 200 comes at once, and the inbox row is already committed, with
    her words and her number only inside the ciphertext."""
    slow = Recorder(delay=0.5)
    async with channel_server(config, slow) as (url, _):
        payload = load_fixture("text", fresh=True)
        started = time.perf_counter()
        answer = await post(url, payload)
        assert answer.status_code == 200
        assert time.perf_counter() - started < 0.3  # the turn runs in the background
        assert slow.messages == []
        (row,) = inbox_rows()
        assert row.state in ("pending", "processing") and row.kind == "text"
        stored = " ".join(str(v) for v in row)
        assert "Hola, necesito ayuda" not in stored and WA_ID not in stored
        assert first_message(payload)["id"] not in stored
        (message,) = await slow.wait_for(1)
    assert message.text == "Hola, necesito ayuda"
    assert message.sender_id == WA_ID
    assert message.input_channel == "whatsapp"
    assert message.output_channel.name() == "whatsapp"
    assert message.metadata == {"wa_message_id": first_message(payload)["id"],
                                "timestamp": first_message(payload)["timestamp"], "type": "text"}
    assert PROFILE_NAME not in json.dumps(message.metadata, ensure_ascii=False)
    assert is_window_open(WA_ID)


async def test_no_200_without_storage(config, recorder, monkeypatch) -> None:
    """The database cannot be reached: 503, so Meta delivers the message again later."""
    async with channel_server(config, recorder) as (url, _):
        monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nothing")
        answer = await post(url, text_update("me está pegando"))
    assert answer.status_code == 503
    assert recorder.messages == []


async def test_row_is_done_and_erased_after_the_turn(channel, recorder) -> None:
    url, ch = channel
    await post(url, text_update("hola"))
    await recorder.wait_for(1)
    await settle(ch)
    (row,) = inbox_rows()
    assert row.state == InboxState.DONE.value and row.payload is None and row.done_at


async def test_read_receipt_after_the_answer_and_no_typing_indicator(config, sim) -> None:
    bot = Recorder(reply="Hola, te escucho.")
    async with channel_server(config, bot) as (url, ch):
        message = wh.text_message(WA_ID, "hola")  # as the phone page shows it
        sim.state.add_event(WA_ID, "in", wamid=message["id"], type="text", text="hola",
                            read=False)
        assert (await post(url, wh.update(messages=[message]))).status_code == 200
        await wait_for_outbound(sim.state, WA_ID)
        await settle(ch)
    assert [c["kind"] for c in sim.state.api_calls] == ["message", "read"]
    assert sim.state.outbound(WA_ID)[0]["text"] == "Hola, te escucho."
    (inbound,) = [e for e in sim.state.events(WA_ID) if e["direction"] == "in"]
    assert inbound["read"] is True and inbound["typing"] is False


async def test_read_receipt_failure_does_not_block_the_turn(config, sim) -> None:
    bot = Recorder(reply="ok")
    config = config.__class__(**{**config.__dict__, "api_url": "http://127.0.0.1:9/v21.0"})
    async with channel_server(config, bot) as (url, _):
        await post(url, load_fixture("text", fresh=True))
        await bot.wait_for(1, timeout=3)
    # the answer and the receipt wait in the outbox (a send cut by the stop stays "sending"
    # until Meta's status or the next sender settles it)
    answer, receipt = outbox_rows()
    assert answer.kind == "message" and answer.state in ("pending", "sending")
    assert receipt.kind == "read" and receipt.state in ("pending", "sending")


async def test_three_identical_deliveries_at_once_give_one_answer(config, sim) -> None:
    bot = Recorder(reply="Una sola respuesta")
    body = wh.encode(text_update("hola", wamid="wamid.SAME"))
    async with channel_server(config, bot) as (url, ch):
        answers = await asyncio.gather(*(post(url, body) for _ in range(3)))
        assert [a.status_code for a in answers] == [200, 200, 200]
        await settle(ch)
    # a late redelivery, to a second server sharing the database
    async with channel_server(config, bot) as (other_url, other):
        assert (await post(other_url, body)).status_code == 200
        await settle(other)
    assert len(bot.messages) == 1
    assert len(sim.state.outbound(WA_ID)) == 1
    assert len(inbox_rows()) == 1


async def test_messages_of_one_user_keep_their_order(config, sim) -> None:
    bot = Recorder(delay=0.02)
    async with channel_server(config, bot) as (url, ch):
        for i in range(6):
            await post(url, text_update(f"mensaje {i}"))
        await post(url, text_update("otra persona", wa_id="56933334444"))
        await settle(ch)
    mine = [m.text for m in bot.messages if m.sender_id == WA_ID]
    assert mine == [f"mensaje {i}" for i in range(6)]


async def test_order_follows_metas_timestamp_then_arrival(config, sim) -> None:
    """A message delivered late (Meta retried it) is still handled before the later ones."""
    bot = Recorder()
    now = int(time.time())
    update = wh.update(messages=[wh.text_message(WA_ID, "segundo", timestamp=now),
                                 wh.text_message(WA_ID, "tercero", timestamp=now),
                                 wh.text_message(WA_ID, "primero", timestamp=now - 5)])
    async with channel_server(config, bot) as (url, _):
        assert (await post(url, update)).status_code == 200  # one transaction
        await bot.wait_for(3)
    assert [m.text for m in bot.messages] == ["primero", "segundo", "tercero"]


async def test_several_entries_changes_and_messages(channel, recorder, sim) -> None:
    url, ch = channel
    assert (await post(url, load_fixture("multi", fresh=True))).status_code == 200
    await settle(ch)
    assert sorted(m.text for m in recorder.messages) == ["dos", "tres", "uno"]
    assert {m.sender_id for m in recorder.messages} == {WA_ID, "56933334444"}


async def test_other_phone_number_id_is_recorded_as_skipped(channel, recorder, sim) -> None:
    url, ch = channel
    assert (await post(url, load_fixture("other_number", fresh=True))).status_code == 200
    await settle(ch)
    assert recorder.messages == [] and sim.state.api_calls == []
    assert [(r.state, r.detail) for r in inbox_rows()] == [("skipped", "other_number")]


async def test_partial_payload_processes_the_valid_messages(channel, recorder) -> None:
    url, ch = channel
    assert (await post(url, load_fixture("partial", fresh=True))).status_code == 200
    await settle(ch)
    assert [m.text for m in recorder.messages] == ["válido", "también válido"]
    assert sorted(r.state for r in inbox_rows()) == ["done", "done"] + ["skipped"] * 4


async def test_slash_text_never_becomes_an_intent(channel, recorder) -> None:
    url, ch = channel
    for text in ("/restart", "  //session_start", "/", "/pedir_humano{\"x\":1}"):
        await post(url, text_update(text))
    await settle(ch)
    assert [m.text for m in recorder.messages] == ["restart", "session_start", "",
                                                   'pedir_humano{"x":1}']


async def test_signed_button_reply_is_a_payload_and_forged_one_is_text(config, sim) -> None:
    bot = Recorder()
    async with channel_server(config, bot) as (url, ch):
        record_user_message(WA_ID)
        output = ch.get_output_channel()
        await output.send_text_with_buttons(WA_ID, "¿Estás a salvo?", [
            {"title": "Sí", "payload": "/afirmar"}, {"title": "No", "payload": "/negar"}])
        (question,) = await wait_for_outbound(sim.state, WA_ID)
        reply = question["buttons"][1]
        await post(url, wh.update(messages=[wh.button_reply_message(WA_ID, reply["id"],
                                                                    reply["title"])]))
        await bot.wait_for(1)
        await post(url, with_reply_id("button_reply", "/restart"))
        await settle(ch)
    assert [m.text for m in bot.messages] == ["/negar", "Sí, estoy a salvo"]


async def test_location(channel, recorder) -> None:
    url, _ = channel
    await post(url, load_fixture("location", fresh=True))
    (message,) = await recorder.wait_for(1)
    assert message.text == "/compartir_ubicacion"
    assert message.metadata["location"]["latitude"] == -33.4489


@pytest.mark.parametrize(("name", "text"), [("voice", "/medio_no_soportado"),
                                            ("sticker", "/medio_no_soportado"),
                                            ("image", "mira esto")])
async def test_media_goes_to_the_bot_and_the_channel_says_nothing_itself(channel, recorder, sim,
                                                                        name, text) -> None:
    """The «solo puedo leer texto» answer is the bot's (domain.yml), so it is silent while
    she waits for a specialist; the channel only marks the message read. A caption is her
    words and reaches the bot as text."""
    url, ch = channel
    await post(url, load_fixture(name, fresh=True))
    (message,) = await recorder.wait_for(1)
    await settle(ch)
    assert message.text == text
    assert message.metadata["media_type"] in ("audio", "image", "sticker")
    assert sim.state.outbound(WA_ID) == []
    assert [c["kind"] for c in sim.state.api_calls] == ["read"]


async def test_reactions_are_recorded_and_never_answered(channel, recorder, sim) -> None:
    url, ch = channel
    assert (await post(url, load_fixture("reaction", fresh=True))).status_code == 200
    await settle(ch)
    assert recorder.messages == [] and sim.state.api_calls == []
    assert [(r.kind, r.state) for r in inbox_rows()] == [("reaction", "silent")]


# --- statuses of our messages ----------------------------------------------------------

async def test_statuses_update_the_outbox_and_are_never_answered(config, sim, recorder,
                                                                 caplog) -> None:
    async with channel_server(config, recorder) as (url, ch):
        record_user_message(WA_ID)
        output = ch.get_output_channel()
        await output.send_text_message(WA_ID, "uno")
        await output.send_text_message(WA_ID, "dos")
        first, second = await wait_for_outbound(sim.state, WA_ID, count=2)
        await settle(ch)
        calls = len(sim.state.api_calls)
        for wamid, status, code in ((first["wamid"], "delivered", None),
                                    (first["wamid"], "read", None),
                                    (second["wamid"], "failed", 131047)):
            obj = wh.status_object(wamid, status, WA_ID, error_code=code)
            assert (await post(url, wh.update(statuses=[obj]))).status_code == 200
        unknown = wh.status_object("wamid.NOT_OURS", "delivered", WA_ID)
        assert (await post(url, wh.update(statuses=[unknown]))).status_code == 200
        await asyncio.sleep(0.2)
    assert recorder.messages == [] and len(sim.state.api_calls) == calls
    one, two = outbox_rows()
    assert one.state == "sent" and one.delivered_at and one.read_at
    assert (two.state, two.error_code) == ("failed", 131047)
    assert WA_ID not in caplog.text


# --- bodies ------------------------------------------------------------------------------

NOT_JSON = [b"", b"not json", b"{\"object\": ", b"\xff\xfe\xfa", b"[" * 100_000 + b"]" * 100_000]


@pytest.mark.parametrize("body", NOT_JSON, ids=range(len(NOT_JSON)))
async def test_bodies_that_are_not_json_are_400_and_the_next_message_works(channel, recorder,
                                                                           body) -> None:
    url, _ = channel
    answer = await post(url, body)
    assert answer.status_code == 400
    assert answer.json()["error"]
    assert (await post(url, text_update("sigo aquí"))).status_code == 200
    (message,) = await recorder.wait_for(1)
    assert message.text == "sigo aquí"


SIGNED_BUT_USELESS = [
    b"[]", b"null", b"\"whatsapp\"", b"{}",
    b"{\"object\": \"whatsapp_business_account\", \"entry\": null}",
    b"{\"object\": \"whatsapp_business_account\", \"entry\": [{\"changes\": [{\"field\": "
    b"\"messages\", \"value\": null}]}]}",
    b"{\"object\": \"whatsapp_business_account\", \"entry\": [1e999999]}",
]


@pytest.mark.parametrize("body", SIGNED_BUT_USELESS, ids=range(len(SIGNED_BUT_USELESS)))
async def test_signed_json_we_cannot_use_is_200_and_recorded_as_skipped(channel, recorder,
                                                                        body) -> None:
    """Meta retries every non-200 for days: a signed body is always accepted and recorded."""
    url, ch = channel
    answer = await post(url, body)
    assert answer.status_code == 200
    await settle(ch)
    rows = inbox_rows()
    assert rows and all(r.state == "skipped" and r.kind == "unusable" for r in rows)
    assert recorder.messages == []


async def test_bodies_over_one_megabyte_are_400(channel, recorder) -> None:
    url, _ = channel
    payload = text_update("x" * 1_000_001)
    answer = await post(url, payload)
    assert answer.status_code == 400 and "1 MB" in answer.json()["error"]


async def test_bodies_over_the_server_limit_are_413_before_being_read(channel, recorder) -> None:
    """The channel lowers the server's body limit (Sanic's default is 100 MB): 2 MB is
    refused by Sanic with 413, nothing is stored, and the next normal webhook is 200."""
    url, ch = channel
    huge = await post(url, text_update("x" * 2_000_000))
    just_over = await post(url, b"{" + b" " * 1_048_576 + b"}")
    normal = await post(url, load_fixture("text", fresh=True))
    assert (huge.status_code, just_over.status_code, normal.status_code) == (413, 413, 200)
    await settle(ch)
    assert len(inbox_rows()) == 1
    await recorder.wait_for(1)


async def test_null_fields_everywhere_are_accepted_and_skipped(channel, recorder) -> None:
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
        assert answer.status_code == 200
    await settle(ch)
    assert recorder.messages == []


# --- privacy ---------------------------------------------------------------------------

async def test_no_text_or_phone_number_in_logs_or_in_the_database(config, sim, caplog,
                                                                  database) -> None:
    secret_text = "mi pareja me golpeó anoche"
    bot = Recorder(reply="Lo siento mucho, ¿estás a salvo ahora?")
    wamid = "wamid.HBgLNTY5MTExMTIyMjIVAgASGBQzQUFBQUFB"
    with caplog.at_level(logging.DEBUG):
        async with channel_server(config, bot) as (url, ch):
            body = wh.encode(text_update(secret_text, wamid=wamid))
            await asyncio.gather(post(url, body), post(url, body))
            await post(url, load_fixture("voice", fresh=True))
            await post(url, load_fixture("status_failed", fresh=True))
            await post(url, b"{bad")
            await settle(ch)
            sim.state.add_faults(Fault(http_status=500), 3)
            await post(url, text_update("otra vez"))
            await settle(ch)
    logged = caplog.text
    assert logged  # something was logged
    private = (WA_ID, secret_text, "otra vez", wamid, PROFILE_NAME, "Lo siento")
    for value in private:
        assert value not in logged
    stored = b"".join(p.read_bytes() for p in Path(database.split("///")[1]).parent.glob("*db*"))
    for value in private:
        assert value.encode("utf-8") not in stored
