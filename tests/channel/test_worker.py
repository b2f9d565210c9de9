"""The inbox worker with Rasa's real pieces: a replayed message already in the tracker is not
answered again; a turn that cannot reach the action server is not lost and runs once it is
back; readiness says when this instance cannot keep the promise of a 200."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from channel_helpers import Recorder, channel_server, http_client, inbox_rows, settle
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from sanic import Sanic, response

from channels.whatsapp import inbox
from channels.whatsapp.inbound import parse_update
from channels.whatsapp.turn_guard import GuardedEndpoint
from handoff.escalation import EscalationBroker
from simulator import webhooks as wh
from simulator.load import wait_for_outbound
from simulator.serving import bind, serve

HER = "56911112222"


def store_messages(*messages: dict) -> None:
    inbox.store_update(parse_update(wh.update(messages=list(messages)), "sandbox-phone-id"))


async def test_a_replayed_message_already_in_the_tracker_is_not_answered_again(config,
                                                                              sim) -> None:
    """A worker died after Rasa saved the turn but before marking the row done."""
    now = int(time.time())
    answered = wh.text_message(HER, "me pegó", wamid="wamid.ANSWERED", timestamp=now - 2)
    waiting = wh.text_message(HER, "sigo aquí", wamid="wamid.WAITING", timestamp=now - 1)
    store_messages(answered, waiting)
    inbox.claim("a-dead-instance", 5)  # it had taken the first message
    trackers = InMemoryTrackerStore(Domain.empty())
    await trackers.save(DialogueStateTracker.from_events(
        HER, [UserUttered("me pegó", message_id="wamid.ANSWERED")]))
    bot = Recorder(reply="Te escucho.")
    agent = SimpleNamespace(tracker_store=trackers, action_endpoint=None, processor=None)
    async with channel_server(config, bot, agent=agent) as (_, channel):
        await bot.wait_for(1, timeout=10)
        await settle(channel)
    assert [m.message_id for m in bot.messages] == ["wamid.WAITING"]
    assert [r.state for r in inbox_rows()] == ["done", "done"]
    assert [e["text"] for e in sim.state.outbound(HER)] == ["Te escucho."]


class ActionCallingBot(Recorder):
    """Calls the custom action over HTTP the way Rasa's RemoteAction does, then answers."""

    def __init__(self, agent: SimpleNamespace) -> None:
        super().__init__(reply="Ticket creado.")
        self.agent = agent
        self.attempts = 0

    async def __call__(self, message) -> None:
        self.attempts += 1
        await self.agent.action_endpoint.request(json={"next_action": "action_handoff"},
                                                 method="post")
        await super().__call__(message)


def action_server() -> Sanic:
    app = Sanic("actions_for_test", configure_logging=False)

    @app.get("/health")
    async def health(_):
        return response.json({"status": "ok"})

    @app.post("/webhook")
    async def webhook(_):
        return response.json({"events": [], "responses": []})

    return app


async def test_a_turn_without_the_action_server_waits_and_runs_once_it_is_back(config,
                                                                              sim) -> None:
    sock = bind()  # bound, not listening yet: the action server is "down"
    endpoint = EndpointConfig(url=f"http://127.0.0.1:{sock.getsockname()[1]}/webhook")
    agent = SimpleNamespace(tracker_store=None, action_endpoint=endpoint,
                            processor=SimpleNamespace(action_endpoint=endpoint))
    bot = ActionCallingBot(agent)
    async with channel_server(config, bot, agent=agent) as (url, channel):
        assert isinstance(agent.action_endpoint, GuardedEndpoint)
        assert agent.processor.action_endpoint is agent.action_endpoint
        body = wh.encode(wh.update(messages=[wh.text_message(HER, "me está pegando")]))
        async with http_client() as client:
            answer = await client.post(url, content=body,
                                       headers={wh.SIGNATURE_HEADER: wh.sign(body)})
        assert answer.status_code == 200
        await asyncio.sleep(1.0)
        assert bot.attempts >= 1 and bot.messages == []  # tried, not lost, not answered
        assert [r.state for r in inbox_rows()] == ["pending"]
        async with serve(action_server(), sock=sock):
            await wait_for_outbound(sim.state, HER, timeout=15)
            await settle(channel)
    assert len(bot.messages) == 1
    assert [e["text"] for e in sim.state.outbound(HER)] == ["Ticket creado."]
    assert [r.state for r in inbox_rows()] == ["done"]


class SelectiveBot(Recorder):
    """Needs the action server only for messages that ask for a ticket (as Rasa's rules do:
    an emergency answer is a domain response, the ticket a custom action)."""

    def __init__(self, agent: SimpleNamespace) -> None:
        super().__init__(reply="Respuesta.")
        self.agent = agent

    async def __call__(self, message) -> None:
        if "ticket" in (message.text or ""):
            await self.agent.action_endpoint.request(json={"next_action": "action_handoff"},
                                                     method="post")
        await super().__call__(message)


async def test_other_conversations_go_on_while_the_action_server_is_down(config, sim) -> None:
    sock = bind()  # the action server is "down"
    endpoint = EndpointConfig(url=f"http://127.0.0.1:{sock.getsockname()[1]}/webhook")
    agent = SimpleNamespace(tracker_store=None, action_endpoint=endpoint,
                            processor=SimpleNamespace(action_endpoint=endpoint))
    other = "56933334444"
    async with channel_server(config, SelectiveBot(agent), agent=agent) as (url, channel):
        first = wh.encode(wh.update(messages=[wh.text_message(HER, "quiero un ticket")]))
        second = wh.encode(wh.update(messages=[wh.text_message(other, "hola")]))
        async with http_client() as client:
            for body in (first, second):
                answer = await client.post(url, content=body,
                                           headers={wh.SIGNATURE_HEADER: wh.sign(body)})
                assert answer.status_code == 200
        await wait_for_outbound(sim.state, other, timeout=15)  # not blocked behind her
        assert sim.state.outbound(HER) == []
        async with serve(action_server(), sock=sock):
            await wait_for_outbound(sim.state, HER, timeout=40)
            await settle(channel)
    assert [r.state for r in inbox_rows()] == ["done", "done"]


async def test_a_session_starts_without_the_action_server(config) -> None:
    """In an inbox turn, the project's session start falls back to Rasa's default events."""
    from channels.whatsapp.turn_guard import guarded_turn

    sock = bind()
    endpoint = GuardedEndpoint(EndpointConfig(url=f"http://127.0.0.1:{sock.getsockname()[1]}"))
    try:
        with guarded_turn():
            answer = await endpoint.request(json={"next_action": "action_session_start"},
                                            method="post")
    finally:
        sock.close()
    assert [e["event"] for e in answer["events"]] == ["session_started", "action"]


async def test_outside_an_inbox_turn_the_endpoint_behaves_as_rasas(config) -> None:
    """An API-triggered action (not an inbox turn) gets Rasa's usual exception."""
    import aiohttp

    sock = bind()
    endpoint = GuardedEndpoint(EndpointConfig(url=f"http://127.0.0.1:{sock.getsockname()[1]}"))
    try:
        await endpoint.request(json={}, method="post")
    except aiohttp.ClientConnectionError:
        pass
    else:  # pragma: no cover
        raise AssertionError("expected a connection error")
    finally:
        sock.close()


async def readiness(url: str) -> tuple[int, dict]:
    async with http_client() as client:
        answer = await client.get(url.rsplit("/", 1)[0] + "/ready")
    return answer.status_code, answer.json()


async def test_ready_only_with_the_escalation_broker_and_the_database(config, monkeypatch) -> None:
    ready_agent = SimpleNamespace(tracker_store=SimpleNamespace(event_broker=EscalationBroker()),
                                  action_endpoint=None, processor=None)
    async with channel_server(config, Recorder(), agent=ready_agent) as (url, _):
        assert await readiness(url) == (200, {"ready": True, "problems": []})
        monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nothing")
        status, body = await readiness(url)
        assert status == 503 and body["problems"][0].startswith("database")
    monkeypatch.undo()


async def test_not_ready_without_the_broker(config) -> None:
    no_broker = SimpleNamespace(tracker_store=SimpleNamespace(event_broker=None),
                                action_endpoint=None, processor=None)
    async with channel_server(config, Recorder(), agent=no_broker) as (url, _):
        status, body = await readiness(url)
    assert status == 503 and body["problems"] == ["event_broker: none loaded"]
    other = SimpleNamespace(tracker_store=SimpleNamespace(event_broker=object()),
                            action_endpoint=None, processor=None)
    async with channel_server(config, Recorder(), agent=other) as (url, _):
        status, body = await readiness(url)
    assert status == 503 and "builtins.object is not handoff.escalation" in body["problems"][0]
    async with channel_server(config, Recorder()) as (url, _):  # Rasa has no agent yet
        status, body = await readiness(url)
    assert status == 503 and "rasa: no agent loaded" in body["problems"]


class HangingBot(Recorder):
    """A turn that never ends (a stuck action server call, say)."""

    async def __call__(self, message) -> None:
        self.messages.append(message)
        await asyncio.Event().wait()


async def test_stopping_drains_the_turns_in_flight(config, sim) -> None:
    bot = Recorder(delay=1.0, reply="Aquí estoy.")
    async with channel_server(config, bot) as (url, channel):
        body = wh.encode(wh.update(messages=[wh.text_message(HER, "hola")]))
        async with http_client() as client:
            await client.post(url, content=body, headers={wh.SIGNATURE_HEADER: wh.sign(body)})
        while channel.runtime.worker.in_flight == 0:
            await asyncio.sleep(0.01)
        started = time.monotonic()
    # the server stopped (SIGTERM path) while the turn was running: it was let finish
    assert time.monotonic() - started < config.tuning.drain_seconds + 2
    assert [r.state for r in inbox_rows()] == ["done"]
    assert len(bot.messages) == 1


async def test_stopping_is_bounded_and_gives_unfinished_messages_back(config, sim) -> None:
    bot = HangingBot()
    async with channel_server(config, bot) as (url, channel):
        body = wh.encode(wh.update(messages=[wh.text_message(HER, "hola")]))
        async with http_client() as client:
            await client.post(url, content=body, headers={wh.SIGNATURE_HEADER: wh.sign(body)})
        await bot.wait_for(1)
        started = time.monotonic()
    took = time.monotonic() - started
    assert config.tuning.drain_seconds - 0.5 <= took < config.tuning.drain_seconds + 3
    (row,) = inbox_rows()
    assert row.state == "pending" and row.payload is not None  # not lost: the next start


async def test_a_failed_turn_the_database_cannot_record_goes_back_later(config, monkeypatch,
                                                                        sim) -> None:
    """The turn raised and recording that failed too (database is locked): the row must not
    stay «processing», or her next messages would wait behind it until a restart."""
    store_messages(wh.text_message(HER, "hola", wamid="wamid.LOCKED"))
    real, refused = inbox.record_failure, []

    def locked_twice(*args, **kwargs):
        if len(refused) < 2:
            refused.append(1)
            raise RuntimeError("database is locked")
        return real(*args, **kwargs)

    class FailingBot(Recorder):
        async def __call__(self, message) -> None:
            await super().__call__(message)
            if len(self.messages) == 1:
                raise ValueError("the turn failed")
            await message.output_channel.send_text_message(message.sender_id, "Hola.")

    monkeypatch.setattr(inbox, "record_failure", locked_twice)
    bot = FailingBot()
    async with channel_server(config, bot) as (_, channel):
        await bot.wait_for(2, timeout=15)  # tried again once recorded
        await settle(channel)
    assert len(refused) == 2
    assert [r.state for r in inbox_rows()] == ["done"]
    assert [e["text"] for e in sim.state.outbound(HER)] == ["Hola."]
