"""Rasa's command line as the stack writes it reads back as meant, whatever the random API
token looks like (``secrets.token_urlsafe`` may start with «-», which argparse would take
for an option: «argument -t/--auth-token: expected one argument»)."""

from __future__ import annotations

import pytest
from rasa.__main__ import create_argument_parser

from stack import Stack, StackPorts


@pytest.mark.parametrize("token", ["-Xf3kqPz9", "--t0ken", "plain_token-123"])
def test_rasa_reads_the_api_token_whatever_it_starts_with(tmp_path, monkeypatch, token) -> None:
    monkeypatch.setenv("RASA_API_TOKEN", token)
    run = Stack(ports=StackPorts.free(), state_dir=tmp_path, simulator=False)
    args = run._rasa_args(5005)
    rasa_at = args.index("rasa")
    parsed = create_argument_parser().parse_args(args[rasa_at + 1:])
    assert parsed.auth_token == token and parsed.port == 5005
