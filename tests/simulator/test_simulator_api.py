"""The simulator as Meta: Graph API checks, signed webhooks, faults, load generator."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from sim_helpers import ROOT, Receiver, http_client

from channels.whatsapp.inbound import parse_update
from channels.whatsapp.signature import verify_signature
from simulator import Fault, start_simulator
from simulator.load import send_webhooks, wait_for_reply
from simulator.serving import bind, free_port, running_simulator, serve

USER = "56911112222"
AUTH = {"Authorization": "Bearer sandbox-token"}


def text(body: str = "hola", **extra: object) -> dict:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": USER,
            "type": "text", "text": {"body": body}, **extra}


def buttons(*titles: str, ids: list[str] | None = None) -> dict:
    ids = ids or [f"id{i}" for i in range(len(titles))]
    return {"messaging_product": "whatsapp", "to": USER, "type": "interactive", "interactive": {
        "type": "button", "body": {"text": "¿Estás a salvo?"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": i, "title": t}} for i, t in zip(ids, titles, strict=False)]}}}


def a_list(rows: int, title: str = "Fila", description: str | None = None,
           label: str = "Ver opciones") -> dict:
    row_list = [{"id": f"r{i}", "title": title, **({"description": description}
                                                    if description else {})}
                for i in range(rows)]
    return {"messaging_product": "whatsapp", "to": USER, "type": "interactive", "interactive": {
        "type": "list", "body": {"text": "Elige"},
        "action": {"button": label, "sections": [{"title": "Regiones", "rows": row_list}]}}}


async def api(sim, body: object, headers: dict | None = AUTH, phone_id: str = "sandbox-phone-id"
              ) -> httpx.Response:
    async with http_client() as client:
        return await client.post(f"{sim.api_url}/{phone_id}/messages", json=body,
                                 headers=headers or {})


def graph_error(answer: httpx.Response, code: int) -> dict:
    error = answer.json()["error"]
    assert error["code"] == code
    assert {"message", "type", "fbtrace_id"} <= set(error)
    return error


async def test_bearer_token_is_required(sim) -> None:
    for headers in (None, {"Authorization": "Bearer wrong"}, {"Authorization": "sandbox-token"}):
        answer = await api(sim, text(), headers=headers)
        assert answer.status_code == 401
        graph_error(answer, 190)
    assert sim.state.outbound() == []


async def test_unknown_phone_number_id(sim) -> None:
    answer = await api(sim, text(), phone_id="123")
    assert answer.status_code == 400
    graph_error(answer, 100)


@pytest.mark.parametrize("body", [
    text("x" * 4096),
    text("🙂" * 4096),
    buttons("Sí", "No", "Hablar con alguien"),
    buttons("x" * 20),
    a_list(10, "y" * 24, "z" * 72),
    {"messaging_product": "whatsapp", "to": USER, "type": "image",
     "image": {"link": "https://example.org/a.png"}},
    {"messaging_product": "whatsapp", "to": USER, "type": "template",
     "template": {"name": "retomar", "language": {"code": "es"}}},
], ids=["text4096", "emoji4096", "3buttons", "title20", "list10", "image", "template"])
async def test_valid_messages_are_accepted(sim, body) -> None:
    answer = await api(sim, body)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["messaging_product"] == "whatsapp"
    assert data["contacts"] == [{"input": USER, "wa_id": USER}]
    assert data["messages"][0]["id"].startswith("wamid.")
    (event,) = sim.state.outbound(USER)
    assert event["wamid"] == data["messages"][0]["id"] and event["message"] == body


async def test_each_answer_has_a_fresh_wamid(sim) -> None:
    ids = {(await api(sim, text())).json()["messages"][0]["id"] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize("body", [
    text("x" * 4097),
    text(""),
    {**text(), "messaging_product": "sms"},
    {**text(), "to": "+56 9 1111"},
    {**text(), "type": "carousel"},
    {**text(), "text": None},
    buttons(),
    buttons("a", "b", "c", "d"),
    buttons("x" * 21),
    buttons("a", "b", ids=["same", "same"]),
    buttons("Sí", "Sí"),
    buttons("a", ids=["x" * 257]),
    a_list(11),
    a_list(3, "y" * 25),
    a_list(3, description="z" * 73),
    a_list(3, label="x" * 21),
    {**buttons("a"), "interactive": {**buttons("a")["interactive"], "body": {"text": "x" * 1025}}},
    {"messaging_product": "whatsapp", "to": USER, "type": "image", "image": {}},
    {"messaging_product": "whatsapp", "to": USER, "type": "template", "template": {"name": "t"}},
    [],
], ids=lambda b: None)
async def test_invalid_messages_are_refused_like_meta(sim, body) -> None:
    answer = await api(sim, body)
    assert answer.status_code == 400
    graph_error(answer, 100)
    assert sim.state.outbound() == []


async def test_not_json_is_refused(sim) -> None:
    async with http_client() as client:
        answer = await client.post(f"{sim.api_url}/sandbox-phone-id/messages", content=b"{",
                                   headers=AUTH)
    assert answer.status_code == 400
    graph_error(answer, 100)


async def test_mark_as_read(sim, receiver) -> None:
    async with http_client() as client:
        sent = (await client.post(f"{sim.url}/_sim/send", json={"wa_id": USER, "text": "hola"})
                ).json()
    answer = await api(sim, {"messaging_product": "whatsapp", "status": "read",
                             "message_id": sent["wamid"], "typing_indicator": {"type": "text"}})
    assert answer.json() == {"success": True}
    (event,) = sim.state.events(USER)
    assert event["read"] and event["typing"]


async def test_faults(sim) -> None:
    async with http_client() as client:
        answer = await client.post(sim.faults_url, json={"count": 2, "http_status": 429,
                                                         "code": 130429})
        assert answer.json() == {"pending": 2, "outage_seconds": 0}
        for _ in range(2):
            failed = await api(sim, text())
            assert failed.status_code == 429
            graph_error(failed, 130429)
        assert (await api(sim, text())).status_code == 200
        await client.post(sim.faults_url, json={"count": 1, "http_status": 500})
        graph_error(await api(sim, text()), 1)
        await client.post(sim.faults_url, json={"count": 1, "http_status": 400, "code": 131047})
        assert graph_error(await api(sim, text()), 131047)
        await client.post(sim.faults_url, json={"count": 5, "http_status": 503})
        assert (await client.delete(sim.faults_url)).json() == {"pending": 0,
                                                                "outage_seconds": 0}
        assert (await api(sim, text())).status_code == 200
        assert (await client.post(sim.faults_url, json={"count": 0})).status_code == 400
        assert (await client.post(sim.faults_url, content=b"x")).status_code == 400
    assert len(sim.state.outbound()) == 2


async def test_read_receipts_do_not_consume_faults(sim) -> None:
    sim.state.add_faults(Fault(http_status=500), 1)
    read = await api(sim, {"messaging_product": "whatsapp", "status": "read", "message_id": "w"})
    assert read.status_code == 200
    assert (await api(sim, text())).status_code == 500


@pytest.mark.parametrize(("request_body", "kind"), [
    ({"type": "text", "text": "Hola, ¿me ayudas? 🙏"}, "text"),
    ({"type": "button_reply", "id": "/afirmar~abc", "title": "Sí"}, "reply"),
    ({"type": "list_reply", "id": "r1", "title": "Biobío", "description": "Región"}, "reply"),
    ({"type": "template_button", "id": "p", "title": "Retomar"}, "reply"),
    ({"type": "location"}, "location"),
    ({"type": "voice"}, "media"),
    ({"type": "image", "caption": "foto"}, "media"),
    ({"type": "sticker"}, "media"),
    ({"type": "unsupported"}, "unusable"),
    ({"type": "revoke", "original_wamid": "wamid.GONE"}, "revoke"),
    ({"type": "identity_change"}, "identity_change"),
    ({"type": "number_change", "new_wa_id": "56933333333"}, "number_change"),
    ({"type": "call_permission_reply"}, "call_permission"),
    ({"type": "flow_completion"}, "flow_completion"),
])
async def test_send_as_a_user_posts_a_signed_webhook(sim, receiver, request_body, kind) -> None:
    _, fake = receiver
    async with http_client() as client:
        answer = await client.post(f"{sim.url}/_sim/send", json={"wa_id": USER, **request_body})
    result = answer.json()
    assert answer.status_code == 200 and result["webhook_status"] == 200
    (body, headers) = fake.requests[0]
    assert verify_signature(body, headers["x-hub-signature-256"], "sandbox-secret")
    update = parse_update(json.loads(body), "sandbox-phone-id")
    (item,) = update.messages + update.events
    assert (item.kind, item.sender, item.message_id) == (kind, USER, result["wamid"])
    assert sim.state.events(USER)[0]["wamid"] == result["wamid"]


async def test_send_validates_its_input(sim) -> None:
    async with http_client() as client:
        for body in ({"wa_id": "abc", "text": "x"}, {"wa_id": USER, "type": "text", "text": " "},
                     {"wa_id": USER, "type": "button_reply"}, {"wa_id": USER, "type": "nope"},
                     {"wa_id": USER, "type": "revoke"},
                     {"wa_id": USER, "type": "number_change", "new_wa_id": "x"}):
            assert (await client.post(f"{sim.url}/_sim/send", json=body)).status_code == 400


async def test_redelivery_sends_the_same_bytes(sim, receiver) -> None:
    _, fake = receiver
    async with http_client() as client:
        sent = (await client.post(f"{sim.url}/_sim/send", json={"wa_id": USER, "text": "hola"})
                ).json()
        again = await client.post(f"{sim.url}/_sim/redeliver",
                                  json={"wamid": sent["wamid"], "times": 3})
        assert [r["webhook_status"] for r in again.json()["results"]] == [200, 200, 200]
        missing = await client.post(f"{sim.url}/_sim/redeliver", json={"wamid": "nope"})
        assert missing.status_code == 404
    bodies = {body for body, _ in fake.requests}
    assert len(fake.requests) == 4 and len(bodies) == 1


async def test_status_webhooks(sim, receiver) -> None:
    _, fake = receiver
    wamid = (await api(sim, text())).json()["messages"][0]["id"]
    async with http_client() as client:
        answer = await client.post(f"{sim.url}/_sim/status", json={
            "wamid": wamid, "status": "failed", "error_code": 131047})
    assert answer.json()["webhook_status"] == 200
    (status,) = parse_update(json.loads(fake.requests[0][0]), "sandbox-phone-id").statuses
    assert (status.message_id, status.status, status.error_code) == (wamid, "failed", 131047)


async def test_automatic_statuses_like_meta(receiver) -> None:
    url, fake = receiver
    async with running_simulator(webhook_url=url, send_statuses=True) as sim:
        await api(sim, text())
        for _ in range(100):
            if len(fake.requests) >= 2:
                break
            await asyncio.sleep(0.02)
    statuses = [parse_update(json.loads(b), "sandbox-phone-id").statuses[0].status
                for b, _ in fake.requests]
    assert statuses == ["sent", "delivered"]


async def test_webhook_target_down_is_reported_not_crashed() -> None:
    async with running_simulator(webhook_url=f"http://127.0.0.1:{free_port()}/webhook") as sim:
        async with http_client() as client:
            answer = await client.post(f"{sim.url}/_sim/send", json={"wa_id": USER, "text": "x"})
    assert answer.status_code == 200
    assert answer.json()["webhook_status"] is None and answer.json()["error"]


async def test_conversations_endpoints(sim) -> None:
    await api(sim, text("uno"))
    await api(sim, text("dos"))
    async with http_client() as client:
        listing = (await client.get(f"{sim.url}/_sim/conversations")).json()
        assert listing["conversations"] == [{"wa_id": USER, "last_seq": 2, "count": 2}]
        later = (await client.get(f"{sim.url}/_sim/conversations/{USER}",
                                  params={"after": 1})).json()
        assert [e["text"] for e in later["events"]] == ["dos"]
        log = (await client.get(f"{sim.url}/_sim/log")).json()
        assert [c["kind"] for c in log["api_calls"]] == ["message", "message"]
        await client.post(f"{sim.url}/_sim/reset")
        assert (await client.get(f"{sim.url}/_sim/conversations")).json()["conversations"] == []


async def test_phone_page_is_served(sim) -> None:
    async with http_client() as client:
        page = await client.get(f"{sim.url}/")
        script = await client.get(f"{sim.url}/static/phone.js")
        style = await client.get(f"{sim.url}/static/phone.css")
    assert page.status_code == 200 and 'id="add-phone-form"' in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # no CDN
    assert script.status_code == 200 and "/_sim/send" in script.text
    assert style.status_code == 200


async def test_load_generator_and_wait_for_reply(sim, receiver) -> None:
    url, fake = receiver
    result = await send_webhooks(url, 30, concurrency=10, texts=["hola", "ayuda 🙏"])
    assert result.ok == 30 and len(result.ack_seconds) == 30
    assert result.median > 0 and result.p95 >= result.median
    assert len(set(result.wa_ids)) == 30 and len(set(result.wamids)) == 30
    assert all(verify_signature(b, h["x-hub-signature-256"], "sandbox-secret")
               for b, h in fake.requests)

    async def bot_answers_later() -> None:
        await asyncio.sleep(0.1)
        await api(sim, text("respuesta"))

    task = asyncio.create_task(bot_answers_later())
    replies = await wait_for_reply(sim.url, USER, timeout=5)
    await task
    assert [r["text"] for r in replies] == ["respuesta"]
    with pytest.raises(TimeoutError):
        await wait_for_reply(sim.url, "56900000001", timeout=0.2)


def test_start_simulator_in_a_thread() -> None:
    with start_simulator() as sim:
        answer = httpx.post(f"{sim.api_url}/sandbox-phone-id/messages", json=text(), headers=AUTH)
        assert answer.status_code == 200
        assert sim.state.outbound(USER)[0]["text"] == "hola"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sim.url}/_sim/health", timeout=1)


def test_command_line() -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", str(port), "--webhook-url",
         "http://127.0.0.1:9/webhook"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/_sim/health", timeout=1).json()
                break
            except httpx.HTTPError:
                assert process.poll() is None, process.stdout.read().decode()
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.2)
        assert health == {"status": "ok", "webhook_url": "http://127.0.0.1:9/webhook"}
    finally:
        process.terminate()
        process.wait(10)


async def test_an_outage_fails_every_send_for_a_while(sim) -> None:
    async with http_client() as client:
        answer = await client.post(sim.faults_url, json={"for_seconds": 0.4,
                                                         "http_status": 503})
        assert answer.json()["outage_seconds"] > 0.3
        for _ in range(3):
            assert (await api(sim, text())).status_code == 503
        read = await api(sim, {"messaging_product": "whatsapp", "status": "read",
                               "message_id": "w"})
        assert read.status_code == 200  # read receipts are not affected
        await asyncio.sleep(0.45)
        assert (await api(sim, text())).status_code == 200
        assert (await client.post(sim.faults_url, json={"for_seconds": -1})).status_code == 400
    assert len(sim.state.outbound()) == 1


async def test_callback_data_is_checked_kept_and_returned_in_statuses(receiver) -> None:
    url, fake = receiver
    async with running_simulator(webhook_url=url, send_statuses=True) as sim:
        ok = await api(sim, {**text(), "biz_opaque_callback_data": "ob.7"})
        assert ok.status_code == 200
        too_long = await api(sim, {**text(), "biz_opaque_callback_data": "x" * 513})
        graph_error(too_long, 100)
        for _ in range(100):
            if len(fake.requests) >= 2:
                break
            await asyncio.sleep(0.02)
    assert sim.state.outbound(USER)[0]["callback"] == "ob.7"
    statuses = [parse_update(json.loads(b), "sandbox-phone-id").statuses[0]
                for b, _ in fake.requests]
    assert [(s.status, s.callback) for s in statuses] == [("sent", "ob.7"), ("delivered", "ob.7")]


async def test_webhooks_without_a_200_are_delivered_again_like_meta() -> None:
    """The webhook target is down, then comes back: Meta keeps trying with backoff."""
    port_sock = bind()
    url = f"http://127.0.0.1:{port_sock.getsockname()[1]}/webhook"
    fake = Receiver()
    async with running_simulator(webhook_url=url, retry_max_delay=0.5) as sim:
        async with http_client() as client:
            first = (await client.post(f"{sim.url}/_sim/send",
                                       json={"wa_id": USER, "text": "¿hay alguien?"})).json()
        assert first["webhook_status"] is None
        await asyncio.sleep(0.3)
        async with serve(fake.app(), sock=port_sock):
            for _ in range(100):
                if fake.requests:
                    break
                await asyncio.sleep(0.05)
    ((body, _),) = fake.requests
    (message,) = parse_update(json.loads(body), "sandbox-phone-id").messages
    assert message.message_id == first["wamid"]
    retries = [w for w in sim.state.webhooks if w["wamid"] == first["wamid"]]
    assert retries[0]["status"] is None and retries[-1]["status"] == 200
