"""How `make run` wires the action-server secret and the log scrubber, without starting
anything: one random token per run given to Rasa (through the endpoints file) and to the
action server, which is started through actions/server.py."""

from __future__ import annotations

import pytest
from rasa.utils.endpoints import read_endpoint_config

from stack import Stack, StackPorts
from stack.processes import LOGGING_CONFIG
from stack.topology import PRODUCTION_ENDPOINTS


@pytest.fixture(autouse=True)
def no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ACTION_SERVER_TOKEN", "WHATSAPP_ACCESS_TOKEN", "RASA_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def stack(tmp_path, **kwargs) -> Stack:
    return Stack(ports=StackPorts.free(), state_dir=tmp_path, simulator=True, **kwargs)


def rasa_action_endpoint(run: Stack, endpoints_file, monkeypatch):
    """The action endpoint as Rasa reads it, in the environment the stack gives Rasa."""
    for name, value in run.env().items():
        monkeypatch.setenv(name, value)
    return read_endpoint_config(str(endpoints_file), "action_endpoint")


def test_one_random_token_per_run_for_rasa_and_the_action_server(tmp_path, monkeypatch):
    first, second = stack(tmp_path / "a"), stack(tmp_path / "b")
    assert first.action_token != second.action_token and len(first.action_token) >= 32
    assert first.env()["ACTION_SERVER_TOKEN"] == first.action_token
    endpoint = rasa_action_endpoint(first, first._endpoints_file(), monkeypatch)
    assert endpoint.headers == {"X-Action-Token": first.action_token}
    assert endpoint.url == f"{first.actions_url}/webhook"
    # the token is not written into the state folder: Rasa reads it from its environment
    assert first.action_token not in first._endpoints_file().read_text(encoding="utf-8")


def test_a_configured_token_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "a-deployment-secret-of-some-length")
    assert stack(tmp_path).env()["ACTION_SERVER_TOKEN"] == "a-deployment-secret-of-some-length"


def test_the_production_endpoints_send_the_token(tmp_path, monkeypatch):
    run = stack(tmp_path, endpoints=PRODUCTION_ENDPOINTS)
    endpoint = rasa_action_endpoint(run, PRODUCTION_ENDPOINTS, monkeypatch)
    assert endpoint.headers == {"X-Action-Token": run.action_token}


def test_rasa_logs_through_the_scrubber_and_actions_run_behind_the_secret(tmp_path):
    run = stack(tmp_path)
    rasa = run._rasa_args(run.ports.rasa)
    assert rasa[rasa.index("--logging-config-file") + 1] == str(LOGGING_CONFIG)
    assert rasa[1:3] == ["-m", "stack.quiet"]
    assert run._actions_args()[1:4] == ["-m", "stack.quiet", "actions.server"]
