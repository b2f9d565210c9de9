"""The outbox as the console sees it: a specialist's reply posted as a ``bot`` event reaches
the output channel with its metadata (Rasa's own code path), becomes rows with a state, and
``states_for`` / ``reply_state`` tell «sent» from «not sent» with Meta's code in Spanish."""

from __future__ import annotations

import time

from channel_helpers import Recorder, channel_server, outbox_rows, settle
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import BotUttered
from rasa.shared.core.trackers import DialogueStateTracker

from channels.whatsapp import outbox
from channels.whatsapp.inbound import InboundStatus
from channels.whatsapp.outbox import OutboundRequest, OutboxState, reply_state, states_for
from channels.whatsapp.tables import engine
from channels.whatsapp.window import record_user_message
from simulator.load import wait_for_outbound
from simulator.state import Fault

HER = "56911112222"


async def post_bot_event(output, text: str, metadata: dict) -> None:
    """What Rasa's ``POST /conversations/{id}/tracker/events?execute_side_effects=true`` does
    with a ``bot`` event: ``MessageProcessor._send_bot_messages`` → ``send_response``."""
    tracker = DialogueStateTracker(HER, [])
    await MessageProcessor._send_bot_messages(  # noqa: SLF001 - Rasa's own side-effect path
        [BotUttered(text, metadata=metadata)], tracker, output)


async def test_a_console_reply_is_tracked_by_its_client_ref(config, sim) -> None:
    record_user_message(HER)
    async with channel_server(config, Recorder()) as (_, channel):
        since = time.time() - 1
        output = channel.get_output_channel()
        await post_bot_event(output, "Hola, soy Ana, especialista.",
                             {"source": "console", "agent": "ana", "client_ref": "r-1"})
        await wait_for_outbound(sim.state, HER)
        await settle(channel)
        (state,) = states_for(HER, since=since)
        assert state.state is OutboxState.SENT and state.left
        assert (state.source, state.client_ref) == ("console", "r-1")
        assert state.sent_at and state.meaning is None
        assert reply_state(HER, "r-1") == state
        assert reply_state(HER, "unknown-ref") is None
        assert states_for(HER, since=time.time() + 60) == []
        assert states_for("56900000000") == []


async def test_a_reply_meta_refuses_shows_its_code_and_spanish_meaning(config, sim) -> None:
    record_user_message(HER)
    sim.state.add_faults(Fault(http_status=400, code=131026), 1)
    async with channel_server(config, Recorder()) as (_, channel):
        await post_bot_event(channel.get_output_channel(), "¿Estás bien?",
                             {"source": "console", "client_ref": "r-2"})
        await settle(channel)
    state = reply_state(HER, "r-2")
    assert state.state is OutboxState.FAILED and not state.left
    assert state.error_code == 131026 and state.failed_at
    assert state.meaning.startswith("No se pudo entregar")


async def test_a_long_reply_in_parts_is_failed_if_one_part_failed(config, sim) -> None:
    record_user_message(HER)
    long_text = "\n\n".join("palabra " * 500 for _ in range(2))
    sim.state.add_faults(Fault(http_status=200), 1)  # first part goes through
    sim.state.add_faults(Fault(http_status=400, code=100), 1)  # the second is refused
    async with channel_server(config, Recorder()) as (_, channel):
        await post_bot_event(channel.get_output_channel(), long_text,
                             {"source": "console", "client_ref": "r-3"})
        await settle(channel)
    parts = states_for(HER, client_ref="r-3")
    assert [p.state for p in parts] == [OutboxState.SENT, OutboxState.FAILED]
    assert reply_state(HER, "r-3").state is OutboxState.FAILED


async def test_a_repeated_console_call_is_not_sent_twice(config, sim) -> None:
    record_user_message(HER)
    async with channel_server(config, Recorder()) as (_, channel):
        for _ in range(2):  # the console retried after a timeout
            await post_bot_event(channel.get_output_channel(), "Te escucho.",
                                 {"source": "console", "client_ref": "r-4"})
        await settle(channel)
    assert len(sim.state.outbound(HER)) == 1 and len(outbox_rows()) == 1


async def test_a_replayed_turn_stores_its_replies_once(config, sim) -> None:
    record_user_message(HER)
    async with channel_server(config, Recorder()) as (_, channel):
        for _ in range(2):  # the same turn, run twice (a worker died before marking it done)
            output = channel.runtime.output_for("digest-of-her-message")
            await output.send_text_message(HER, "Hola")
            await output.send_text_with_buttons(HER, "¿Qué necesitas?", [
                {"title": "Información", "payload": "/pedir_informacion"}])
        await settle(channel)
    assert [e["text"] for e in sim.state.outbound(HER)] == ["Hola", "¿Qué necesitas?"]
    assert [r.key for r in outbox_rows()] == ["turn:digest-of-her-message:0",
                                              "turn:digest-of-her-message:1"]


async def test_statuses_from_meta_complete_the_rows(config, sim) -> None:
    record_user_message(HER)
    async with channel_server(config, Recorder()) as (_, channel):
        await post_bot_event(channel.get_output_channel(), "Hola", {"client_ref": "r-5"})
        await settle(channel)
    wamid = sim.state.outbound(HER)[0]["wamid"]
    with engine().begin() as conn:
        assert outbox.apply_status(conn, InboundStatus(wamid, "read", str(int(time.time())),
                                                       HER), time.time())
        assert not outbox.apply_status(conn, InboundStatus("wamid.other", "read", None, HER),
                                       time.time())
    state = reply_state(HER, "r-5")
    assert state.delivered_at and state.read_at and state.source == "bot"


def test_prune_forgets_finished_rows_only() -> None:
    outbox.enqueue([OutboundRequest(key=f"k{i}", recipient=HER,
                                    message={"type": "text", "text": {"body": "x"}})
                    for i in range(2)])
    first, _ = outbox_rows()
    outbox.mark_failed(first.id, 131026)
    assert outbox.prune(0, now=time.time() + 1) == 1
    assert [r.state for r in outbox_rows()] == ["pending"]


def test_accepted_rows_keep_their_first_time_and_id_and_a_failed_row_stays_failed() -> None:
    outbox.enqueue([OutboundRequest(key=f"k{i}", recipient=HER,
                                    message={"type": "text", "text": {"body": "x"}})
                    for i in range(3)])
    first, second, third = outbox_rows()
    outbox.mark_failed(third.id, 131026)
    outbox.mark_sent_many([(first.id, "wamid.A", 100.0), (second.id, None, 101.0),
                           (third.id, "wamid.C", 102.0)])
    outbox.mark_sent_many([(first.id, None, 200.0), (second.id, "wamid.B", 201.0)])
    with engine().begin() as conn:
        rows = {r.id: r for r in conn.execute(outbox.outbox.select())}
    assert [rows[first.id].state, rows[second.id].state, rows[third.id].state] == \
        ["sent", "sent", "failed"]
    assert (rows[first.id].sent_at, rows[second.id].sent_at, rows[third.id].sent_at) == \
        (100.0, 101.0, None)
    assert rows[first.id].wamid_digest == outbox.digest("wamid.A")
    assert rows[second.id].wamid_digest == outbox.digest("wamid.B")
    assert rows[third.id].wamid_digest is None
    assert rows[first.id].payload is None and "wamid.A" not in str(rows[first.id].wamid)
