"""Real webhook payloads from pywa's test fixtures (fixtures/pywa/README.md): none crashes,
none gets a 400 or a 500, and events that are not her words never reach the bot."""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import replace

import pytest
from channel_helpers import (
    PYWA_PHONE_NUMBER_ID,
    Recorder,
    channel_server,
    http_client,
    inbox_rows,
    outbox_rows,
    pywa_payloads,
    settle,
)

from channels.whatsapp.inbound import InboundKind, parse_update
from simulator import webhooks as wh

PAYLOADS = pywa_payloads()
SILENT = {"call_permission_update:accept": "call_permission",
          "call_permission_update:reject": "call_permission",
          "flow_completion:completion": "flow_completion",
          "delete_message:original_id": "revoke",
          "system:identity_change": "identity_change",
          "system:phone_number_change": "number_change",
          "system:user_id_change": "user_id_change",
          "edited_message:edit_text": "edit",
          "chat_opened:chat_opened": "chat_opened",
          "message:reaction": "reaction",
          "message:unreaction_empty": "reaction"}


def with_unique_ids(index: int, payload: dict) -> dict:
    """pywa reuses "wamid.xyzxyz" everywhere; give each fixture its own id."""
    payload = copy.deepcopy(payload)
    for entry in payload.get("entry") or []:
        for change in entry.get("changes") or []:
            for message in (change.get("value") or {}).get("messages") or []:
                if isinstance(message, dict) and "id" in message:
                    message["id"] = f"{message['id']}.{index}"
    return payload


async def post_all(url: str, payloads: list[dict]) -> list[int]:
    statuses = []
    async with http_client() as client:
        for payload in payloads:
            body = wh.encode(payload)
            answer = await client.post(url, content=body,
                                       headers={wh.SIGNATURE_HEADER: wh.sign(body)})
            statuses.append(answer.status_code)
    return statuses


def test_there_are_enough_real_payloads() -> None:
    assert len(PAYLOADS) >= 35


@pytest.mark.parametrize(("name", "payload"), PAYLOADS, ids=[n for n, _ in PAYLOADS])
def test_every_payload_parses_into_known_outcomes(name: str, payload: dict) -> None:
    update = parse_update(payload, PYWA_PHONE_NUMBER_ID)
    assert update.messages or update.events or update.statuses
    if name in SILENT:
        assert not update.messages
        assert [e.kind.value for e in update.events] == [SILENT[name]]


async def test_every_payload_gets_a_200_as_delivered(config, sim) -> None:
    """As Meta sends them (several share one message id: later ones are redeliveries)."""
    bot = Recorder()
    config = replace(config, phone_number_id=PYWA_PHONE_NUMBER_ID)
    async with channel_server(config, bot) as (url, channel):
        assert await post_all(url, [p for _, p in PAYLOADS]) == [200] * len(PAYLOADS)
        await settle(channel)
    assert len({m.message_id for m in bot.messages}) == len(bot.messages)


async def test_only_her_words_reach_the_bot_and_nothing_is_answered(config, sim) -> None:
    bot = Recorder()
    config = replace(config, phone_number_id=PYWA_PHONE_NUMBER_ID)
    payloads = [with_unique_ids(i, p) for i, (_, p) in enumerate(PAYLOADS)]
    async with channel_server(config, bot) as (url, channel):
        assert await post_all(url, payloads) == [200] * len(PAYLOADS)
        await settle(channel)
    turns = Counter(m.metadata["type"] for m in bot.messages)
    assert turns == {"text": 4, "image": 1, "video": 1, "document": 1, "audio": 1,
                     "sticker": 1, "location": 1, "contacts": 1, "interactive": 2, "button": 1}
    assert {m.text for m in bot.messages if m.metadata["type"] == "text"} == {
        "Body Text", "replied text", "text forwarded many times", "BODY"}
    receipts = outbox_rows()  # nothing but the read receipts of her messages
    assert {r.kind for r in receipts} == {"read"} and len(receipts) == len(bot.messages)
    assert not any(c["kind"] == "message" for c in sim.state.api_calls)
    kinds = Counter((r.kind, r.state) for r in inbox_rows())
    for kind in ("revoke", "identity_change", "number_change", "call_permission",
                 "flow_completion", "edit", "chat_opened", "user_id_change"):
        assert kinds[(kind, "silent")] >= 1, kind
    assert kinds[(InboundKind.UNUSABLE.value, "skipped")] >= 9
    assert all(r.detail is None or " " not in r.detail for r in inbox_rows())
