"""A process of the stack that dies while starting is reported with the end of its log:
the log itself goes away with the stack's temporary folder."""

from __future__ import annotations

import sys

import pytest

from stack import Stack, StackPorts


def test_a_child_that_dies_at_start_is_reported_with_its_last_lines(tmp_path) -> None:
    run = Stack(ports=StackPorts.free(), state_dir=tmp_path, simulator=False)
    run.log_dir.mkdir(parents=True, exist_ok=True)
    run._spawn("falla", [sys.executable, "-c",
                         "print('primera'); print('no such table: events'); raise SystemExit(3)"])
    try:
        with pytest.raises(RuntimeError) as raised:
            run._wait("falla", "http://127.0.0.1:9/", timeout=20)
    finally:
        run.stop()
    assert "falla exited with 3" in str(raised.value)
    assert str(raised.value).rstrip().endswith("no such table: events")
