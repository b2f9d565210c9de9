"""The outbox sender against the simulator: Meta's limits, the API failing for a while, order
per recipient, giving up, one sender among several instances, and sends cut by a crash."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import httpx
from channel_helpers import Recorder, channel_server, outbox_rows, settle
from sqlalchemy import update

from channels.whatsapp import outbox
from channels.whatsapp.config import WhatsAppConfig
from channels.whatsapp.outbox import OutboundRequest, OutboxState
from channels.whatsapp.tables import engine
from channels.whatsapp.tables import outbox as outbox_table
from channels.whatsapp.window import record_user_message
from simulator import webhooks as wh
from simulator.load import wait_for_outbound
from simulator.state import Fault

ANA, BEA = "56911111111", "56922222222"


def tuned(config: WhatsAppConfig, **tuning: object) -> WhatsAppConfig:
    return replace(config, tuning=replace(config.tuning, **tuning))


def texts(sim, who: str) -> list[str]:
    return [e["text"] for e in sim.state.outbound(who)]


async def send_all(channel, who: str, bodies: list[str]) -> None:
    output = channel.get_output_channel()
    for body in bodies:
        await output.send_text_message(who, body)


async def test_the_api_failing_for_a_while_holds_everything_then_delivers_in_order(
        config, sim) -> None:
    for who in (ANA, BEA):
        record_user_message(who)
    sim.state.add_outage(Fault(http_status=503), 1.5)
    async with channel_server(tuned(config, pair_burst=10, send_max_backoff=1.0),
                              Recorder()) as (_, channel):
        await send_all(channel, ANA, [f"a{i}" for i in range(4)])
        await send_all(channel, BEA, [f"b{i}" for i in range(3)])
        await asyncio.sleep(0.5)
        assert {r.state for r in outbox_rows()} <= {"pending", "sending"}  # held, not lost
        await settle(channel, timeout=15)
    assert texts(sim, ANA) == ["a0", "a1", "a2", "a3"]
    assert texts(sim, BEA) == ["b0", "b1", "b2"]
    faults = [c for c in sim.state.api_calls if c["kind"] == "fault"]
    # backed off: without it, two recipients polled every 50 ms would fail ~60 times
    assert 1 <= len(faults) <= 20
    assert {r.state for r in outbox_rows()} == {"sent"}


async def test_messages_to_one_person_are_spaced_after_a_burst(config, sim) -> None:
    record_user_message(ANA)
    async with channel_server(tuned(config, pair_burst=2, pair_interval=0.8),
                              Recorder()) as (_, channel):
        await send_all(channel, ANA, ["1", "2", "3", "4"])
        await wait_for_outbound(sim.state, ANA, count=4, timeout=10)
    times = [e["time"] for e in sim.state.outbound(ANA)]
    assert texts(sim, ANA) == ["1", "2", "3", "4"]
    assert times[1] - times[0] < 0.4  # the burst of two
    # then one every 0.8 s: the third when the first token is back, the fourth 0.8 s later
    # (times at the simulator include the HTTP time of each send: a margin for it)
    assert times[2] - times[0] >= 0.6 and times[3] - times[2] >= 0.6


async def test_pair_rate_error_is_retried_later_and_keeps_the_order(config, sim) -> None:
    record_user_message(ANA)
    sim.state.add_faults(Fault(http_status=400, code=131056), 1)
    async with channel_server(tuned(config, pair_interval=0.3), Recorder()) as (_, channel):
        await send_all(channel, ANA, ["primero", "segundo"])
        await settle(channel, timeout=10)
    assert texts(sim, ANA) == ["primero", "segundo"]


async def test_a_permanent_error_fails_that_message_and_the_next_goes(config, sim) -> None:
    record_user_message(ANA)
    sim.state.add_faults(Fault(http_status=400, code=131026), 1)
    async with channel_server(config, Recorder()) as (_, channel):
        await send_all(channel, ANA, ["no llega", "sí llega"])
        await settle(channel)
    assert texts(sim, ANA) == ["sí llega"]
    assert [(r.state, r.error_code) for r in outbox_rows()] == [("failed", 131026),
                                                                ("sent", None)]


async def test_an_invalid_token_is_not_retried(config, sim) -> None:
    record_user_message(ANA)
    broken = replace(config, access_token="expired")
    async with channel_server(broken, Recorder()) as (_, channel):
        await send_all(channel, ANA, ["hola"])
        await settle(channel)
    (row,) = outbox_rows()
    assert (row.state, row.error_code, row.attempts) == ("failed", 190, 1)


async def test_a_message_too_old_to_send_is_given_up(config, sim) -> None:
    record_user_message(ANA)
    sim.state.add_outage(Fault(http_status=500), 30)
    async with channel_server(tuned(config, send_max_age=0.5), Recorder()) as (_, channel):
        await send_all(channel, ANA, ["hola"])
        await settle(channel, timeout=10)
    sim.state.clear_faults()
    (row,) = outbox_rows()
    assert (row.state, row.failure_reason) == ("failed", "sin_respuesta")
    state = outbox.reply_state(ANA, "none") or outbox.states_for(ANA)[0]
    assert state.meaning.startswith("WhatsApp no respondió")


async def test_only_one_instance_sends(config, sim) -> None:
    record_user_message(ANA)
    async with channel_server(config, Recorder()) as (_, first):
        async with channel_server(config, Recorder()) as (_, second):
            await asyncio.sleep(0.3)
            leaders = [c.runtime.sender.is_leader for c in (first, second)]
            assert sorted(leaders) == [False, True]
            leader = (first if leaders[0] else second).runtime.instance_id
            await send_all(second, ANA, ["desde la segunda"])
            await send_all(first, ANA, ["desde la primera"])
            await settle(first)
    assert texts(sim, ANA) == ["desde la segunda", "desde la primera"]
    assert {r.taken_by for r in outbox_rows()} == {leader}


def cut_send(row_id: int) -> None:
    """As if the sender was killed during the HTTP call: "sending" by a dead instance."""
    with engine().begin() as conn:
        conn.execute(update(outbox_table).where(outbox_table.c.id == row_id).values(
            state=OutboxState.SENDING.value, taken_by="dead", attempted_at=time.time() - 1))


async def test_a_send_cut_by_a_crash_is_settled_by_metas_status(config, sim) -> None:
    """Meta's status (with our callback data) arrives: the message is not sent again."""
    record_user_message(ANA)
    outbox.enqueue([OutboundRequest(key="k1", recipient=ANA,
                                    message={"type": "text", "text": {"body": "hola"}})])
    (row,) = outbox_rows()
    cut_send(row.id)
    async with channel_server(config, Recorder()) as (url, channel):
        status = wh.status_object("wamid.FROM_META", "sent", ANA, callback=f"ob.{row.id}")
        body = wh.encode(wh.update(statuses=[status]))
        async with httpx.AsyncClient() as client:
            answer = await client.post(url, content=body,
                                       headers={wh.SIGNATURE_HEADER: wh.sign(body)})
        assert answer.status_code == 200
        await asyncio.sleep(1.5)  # past the reconcile grace of the test settings
        await settle(channel)
    assert sim.state.api_calls == []
    (row,) = outbox_rows()
    assert row.state == "sent" and row.wamid_digest


async def test_a_send_cut_by_a_crash_without_status_is_sent_again(config, sim) -> None:
    record_user_message(ANA)
    outbox.enqueue([OutboundRequest(key="k1", recipient=ANA,
                                    message={"type": "text", "text": {"body": "hola"}})])
    cut_send(outbox_rows()[0].id)
    async with channel_server(config, Recorder()) as (_, channel):
        await asyncio.sleep(0.5)
        assert sim.state.api_calls == []  # waits for Meta's status first
        await wait_for_outbound(sim.state, ANA, timeout=5)
        await settle(channel)
    assert texts(sim, ANA) == ["hola"]
