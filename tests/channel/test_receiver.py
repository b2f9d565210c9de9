"""The webhook receiver process's app (channels/whatsapp/receiver.py) and its nudges
(nudge.py): it answers Meta as the channel inside Rasa does, stores before its 200, and a
datagram wakes a Rasa instance's worker at once."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
import uuid

import pytest
from channel_helpers import WA_ID, Recorder, channel_server, http_client, inbox_rows
from sanic import Sanic

from channels.whatsapp.config import WhatsAppConfig, WhatsAppConfigError, load_config
from channels.whatsapp.nudge import NudgeSender, listen, parse_address, parse_addresses
from channels.whatsapp.receiver import build_app
from simulator import webhooks as wh
from simulator.serving import serve

SLOW_POLL = 30.0  # the worker's own poll: anything sooner than this came from a nudge


def udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def receiver_app(config: WhatsAppConfig) -> Sanic:
    Sanic.test_mode = True
    return build_app(config, name=f"receiver_test_{uuid.uuid4().hex[:10]}")


async def post_signed(url: str, body: bytes, secret: str = "sandbox-secret"):
    async with http_client() as client:
        return await client.post(url, content=body, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": wh.sign(body, secret)})


async def test_a_stored_message_reaches_the_instance_the_receiver_nudges(
        config: WhatsAppConfig) -> None:
    port = udp_port()
    instance = dataclasses.replace(config, nudge_listen=("127.0.0.1", port),
                                   tuning=dataclasses.replace(config.tuning,
                                                              poll_seconds=SLOW_POLL))
    recorder = Recorder()
    async with channel_server(instance, recorder) as (_, channel):
        await asyncio.sleep(0.2)  # the worker's first look at the empty inbox is over
        async with serve(receiver_app(dataclasses.replace(
                config, nudge_to=(("127.0.0.1", port),)))) as url:
            body = wh.encode(wh.update(messages=[wh.text_message(WA_ID, "hola")]))
            started = time.monotonic()
            answer = await post_signed(f"{url}/webhooks/whatsapp/webhook", body)
            assert answer.status_code == 200
            assert len(inbox_rows()) == 1  # stored before the 200
            messages = await recorder.wait_for(1, timeout=5.0)
            assert time.monotonic() - started < 5.0 < SLOW_POLL
    assert messages[0].text == "hola" and messages[0].sender_id == WA_ID
    assert channel.runtime is None  # stopped with its server


async def test_the_receiver_answers_meta_as_the_channel_does(config: WhatsAppConfig) -> None:
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    sender.setblocking(False)
    app = receiver_app(dataclasses.replace(config, nudge_to=(sender.getsockname(),)))
    async with serve(app) as url, http_client() as client:
        webhook = f"{url}/webhooks/whatsapp/webhook"
        body = wh.encode(wh.update(messages=[wh.text_message(WA_ID, "hola")]))
        assert (await post_signed(webhook, body, secret="wrong")).status_code == 403
        assert (await client.post(webhook, content=body)).status_code == 401
        assert (await post_signed(webhook, b"{not json")).status_code == 400
        assert inbox_rows() == []
        with pytest.raises(BlockingIOError):
            sender.recv(10)  # nothing refused was announced
        status = wh.encode(wh.update(statuses=[wh.status_object("wamid.X", "read", WA_ID)]))
        assert (await post_signed(webhook, status)).status_code == 200
        with pytest.raises(BlockingIOError):
            sender.recv(10)  # a status is not a message: no turn to wake
        assert (await post_signed(webhook, body)).status_code == 200
        await asyncio.sleep(0.05)
        assert sender.recv(10) == b"1"
        handshake = await client.get(webhook, params={
            "hub.mode": "subscribe", "hub.verify_token": "sandbox-verify", "hub.challenge": "7"})
        assert handshake.status_code == 200 and handshake.text == "7"
        ready = await client.get(f"{url}/webhooks/whatsapp/ready")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        too_big = await post_signed(webhook, b" " * 1_100_000)
        assert too_big.status_code == 413
    sender.close()


async def test_nudges_go_to_the_instances_in_turn() -> None:
    received: list[int] = []
    ports = [udp_port(), udp_port()]
    transports = [await listen(("127.0.0.1", port), lambda p=port: received.append(p))
                  for port in ports]
    nudges = NudgeSender([("127.0.0.1", port) for port in ports])
    for _ in range(4):
        nudges.nudge()
    deadline = time.monotonic() + 2
    while len(received) < 4 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    nudges.close()
    for transport in transports:
        assert transport is not None
        transport.close()
    assert sorted(received) == sorted(ports * 2)  # two each, not four to the first


async def test_a_port_that_cannot_be_bound_leaves_polling() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        assert await listen(taken.getsockname(), lambda: None) is None


def test_nudges_to_nobody_are_dropped_quietly() -> None:
    nudges = NudgeSender([])
    nudges.nudge()  # no address: nothing to do, nothing raised
    unreachable = NudgeSender([("203.0.113.1", 9)])  # documentation address
    unreachable.nudge()  # may fail or vanish: never raises
    unreachable.close()


def test_addresses_are_read_or_refused() -> None:
    assert parse_address("127.0.0.1:5006") == ("127.0.0.1", 5006)
    assert parse_address("[::1]:5006") == ("::1", 5006)
    assert parse_addresses(" a:1, b:2 ,") == [("a", 1), ("b", 2)]
    assert parse_addresses(None) == []
    for bad in ("5006", "host:", ":5006", "host:port", "host:70000"):
        with pytest.raises(ValueError):
            parse_address(bad)


def test_the_nudge_settings_come_from_the_environment() -> None:
    config = load_config({"WHATSAPP_NUDGE_LISTEN": "127.0.0.1:5006",
                          "WHATSAPP_NUDGE_TO": "127.0.0.1:5006,127.0.0.1:5007"})
    assert config.nudge_listen == ("127.0.0.1", 5006)
    assert config.nudge_to == (("127.0.0.1", 5006), ("127.0.0.1", 5007))
    assert load_config({}).nudge_listen is None and load_config({}).nudge_to == ()
    for env in ({"WHATSAPP_NUDGE_TO": "127.0.0.1"},
                {"WHATSAPP_NUDGE_LISTEN": "127.0.0.1:1,127.0.0.1:2"}):
        with pytest.raises(WhatsAppConfigError):
            load_config(env)
