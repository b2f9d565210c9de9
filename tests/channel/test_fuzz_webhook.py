"""Fuzzing the webhook (hypothesis, fixed number of examples, derandomised): whatever a signed
body holds, the parser never raises, everything it accepts can be stored and handed to Rasa,
no message it found is lost, and the HTTP answer is never a 5xx."""

from __future__ import annotations

import json

from channel_helpers import http_client
from fuzz_payloads import any_json, update
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from channels.whatsapp.config import SANDBOX_APP_SECRET, SANDBOX_PHONE_NUMBER_ID
from channels.whatsapp.inbound import InboundMessage, parse_update
from channels.whatsapp.inbox import store_update
from channels.whatsapp.tables import engine, inbox
from channels.whatsapp.translate import to_rasa
from simulator import webhooks as wh
from store.crypto import data_keyring

FUZZ = settings(max_examples=150, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
HTTP_FUZZ = settings(FUZZ, max_examples=40)


def strings_of(message: InboundMessage) -> list[str]:
    values = [message.message_id, message.sender, message.timestamp, message.type,
              message.text, message.reply_id, message.reply_title]
    values += [v for v in (message.location or {}).values() if isinstance(v, str)]
    return [v for v in values if v is not None]


@FUZZ
@given(data=st.one_of(any_json, update))
def test_the_parser_never_raises_and_keeps_only_storable_text(data) -> None:
    parsed = parse_update(data, SANDBOX_PHONE_NUMBER_ID)
    for message in parsed.messages:
        for text in strings_of(message):
            text.encode("utf-8")  # no lone surrogate reaches the database or the NLU
        rasa = to_rasa(message, SANDBOX_APP_SECRET)
        rasa.text.encode("utf-8")
        assert not rasa.text.startswith("/") or rasa.text in (
            "/compartir_ubicacion", "/medio_no_soportado") or rasa.metadata.get("payload")
    for event in parsed.events:
        assert event.detail is None or event.detail.isascii()


@FUZZ
@given(data=update)
def test_everything_the_parser_accepts_is_stored_and_no_message_is_lost(data) -> None:
    parsed = parse_update(data, SANDBOX_PHONE_NUMBER_ID)
    store_update(parsed)
    ring = data_keyring()
    wanted = {ring.digest(m.message_id) for m in parsed.messages}
    with engine().connect() as conn:
        stored = set(conn.execute(select(inbox.c.wamid_digest)
                                  .where(inbox.c.wamid_digest.in_(wanted))).scalars())
    assert stored == wanted


async def post_signed(url: str, body: bytes) -> int:
    async with http_client() as client:
        answer = await client.post(url, content=body, headers={
            "Content-Type": "application/json", wh.SIGNATURE_HEADER: wh.sign(body)})
    return answer.status_code


@HTTP_FUZZ
@given(body=st.one_of(st.binary(max_size=300),
                      update.map(lambda d: json.dumps(d).encode()),
                      any_json.map(lambda d: json.dumps(d).encode())))
async def test_a_signed_body_never_gets_a_5xx(channel, body) -> None:
    url, _ = channel
    assert await post_signed(url, body) in (200, 400)


@HTTP_FUZZ
@given(body=st.binary(max_size=300),
       signature=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), max_size=80)
       | st.binary(min_size=32, max_size=32).map(lambda b: "sha256=" + b.hex()))
async def test_an_unsigned_or_forged_body_is_refused(channel, body, signature) -> None:
    url, _ = channel
    async with http_client() as client:
        answer = await client.post(url, content=body,
                                   headers={wh.SIGNATURE_HEADER: signature} if signature else {})
    assert answer.status_code in (401, 403)
