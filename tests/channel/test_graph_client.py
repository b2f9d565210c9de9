"""Retries and no-retries against the simulator's injected errors (the real app, no mocks)."""

from __future__ import annotations

import logging

import httpx
import pytest
from channel_helpers import fast_graph, http_client

from channels.whatsapp.graph_client import GraphClient
from simulator.serving import RunningSimulator

TEXT = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "56911112222",
        "type": "text", "text": {"body": "hola"}}


async def inject(sim: RunningSimulator, **fault: object) -> None:
    async with http_client() as client:
        answer = await client.post(sim.faults_url, json=fault)
        assert answer.status_code == 200, answer.text


def calls(sim: RunningSimulator) -> list[tuple[str, int]]:
    return [(c["kind"], c["status"]) for c in sim.state.api_calls]


async def test_success(sim, config) -> None:
    graph = fast_graph(config)
    result = await graph.send(TEXT)
    assert result.ok and result.message_id.startswith("wamid.") and result.attempts == 1
    assert sim.state.outbound("56911112222")[0]["text"] == "hola"
    await graph.aclose()


@pytest.mark.parametrize(("http_status", "code"), [
    (429, 130429), (400, 131056), (500, None), (503, None), (502, 1),
])
async def test_transient_errors_are_retried(sim, config, http_status, code) -> None:
    await inject(sim, count=2, http_status=http_status, code=code)
    result = await fast_graph(config).send(TEXT)
    assert result.ok and result.attempts == 3
    assert calls(sim) == [("fault", http_status), ("fault", http_status), ("message", 200)]


async def test_retries_are_bounded(sim, config, caplog) -> None:
    await inject(sim, count=10, http_status=429, code=130429)
    with caplog.at_level(logging.INFO):
        result = await fast_graph(config).send(TEXT)
    assert not result.ok and result.attempts == 4 and result.error_code == 130429
    assert len(sim.state.api_calls) == 4
    assert "not sent (4 tries)" in caplog.text
    assert "56911112222" not in caplog.text and "hola" not in caplog.text


async def test_timeouts_are_retried(sim, config) -> None:
    await inject(sim, count=1, http_status=200, delay=0.5)
    graph = fast_graph(config, timeout=httpx.Timeout(0.2))
    result = await graph.send(TEXT)
    assert result.ok and result.attempts == 2


async def test_connection_errors_are_retried_then_given_up(config) -> None:
    graph = GraphClient("http://127.0.0.1:9/v21.0", "x", "t", base_delay=0.01, max_delay=0.02)
    result = await graph.send(TEXT)
    assert not result.ok and result.attempts == 4 and result.http_status is None


@pytest.mark.parametrize(("http_status", "code", "level", "words"), [
    (400, 131047, logging.WARNING, "24 hours"),
    (400, 131026, logging.WARNING, "undeliverable"),
    (400, 100, logging.ERROR, "BUG"),
    (401, 190, logging.CRITICAL, "OPERATOR ALERT"),
])
async def test_permanent_errors_are_not_retried(sim, config, caplog, http_status, code, level,
                                                words) -> None:
    await inject(sim, count=1, http_status=http_status, code=code)
    with caplog.at_level(logging.INFO):
        result = await fast_graph(config).send(TEXT)
    assert not result.ok and result.attempts == 1 and result.error_code == code
    assert calls(sim) == [("fault", http_status)]
    record = next(r for r in caplog.records if str(code) in r.getMessage())
    assert record.levelno == level and words in record.getMessage()
    assert "56911112222" not in caplog.text


async def test_meta_validation_error_is_code_100_and_not_retried(sim, config, caplog) -> None:
    bad = {**TEXT, "text": {"body": "x" * 4097}}
    result = await fast_graph(config).send(bad)
    assert not result.ok and result.error_code == 100 and result.attempts == 1


async def test_wrong_token_is_190(sim, config, caplog) -> None:
    graph = GraphClient(config.api_url, config.phone_number_id, "wrong", base_delay=0.01)
    with caplog.at_level(logging.INFO):
        result = await graph.send(TEXT)
    assert (result.ok, result.http_status, result.error_code) == (False, 401, 190)
    assert "OPERATOR ALERT" in caplog.text


def test_backoff_is_exponential_with_jitter_and_bounded() -> None:
    graph = GraphClient("http://x", "p", "t", base_delay=0.5, max_delay=4.0)
    for attempt, delay in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)):
        values = {graph.backoff(attempt) for _ in range(50)}
        assert all(delay / 2 <= v <= delay for v in values)
        assert len(values) > 1
    default = GraphClient("http://x", "p", "t")
    assert sum(default.max_delay for _ in range(default.max_attempts - 1)) <= 12


async def test_one_attempt_for_the_outbox_sender(sim, config) -> None:
    """The outbox keeps its own retries: with max_attempts=1 a 503 is reported at once."""
    await inject(sim, count=2, http_status=503)
    graph = fast_graph(config)
    result = await graph.send(TEXT, max_attempts=1)
    assert (result.ok, result.http_status, result.attempts) == (False, 503, 1)
    assert calls(sim) == [("fault", 503)]


async def test_read_receipt_body_is_accepted(sim, config) -> None:
    graph = fast_graph(config)
    result = await graph.send({"messaging_product": "whatsapp", "status": "read",
                               "message_id": "wamid.X"}, max_attempts=1)
    assert result.ok and calls(sim) == [("read", 200)]
