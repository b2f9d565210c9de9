"""`make run` as an operator uses it: it starts, answers, and stops everything it started on
SIGTERM (as a service manager stops it) and on Ctrl-C (SIGINT to the terminal's process
group), checked with ps. Each run's logs start fresh (the previous run kept as .1), carry
no Python deprecation warnings, and never her words or her number."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from stack import StackPorts

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PHONE = "56977771234"
SECRET_WORDS = "me llamo Rosalinda y vivo en Renca"


def process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) for every process, from ps."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,stat="], capture_output=True,
                         text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        pid, ppid, stat = line.split(None, 2)
        table[int(pid)] = (int(ppid), stat.strip())
    return table


def descendants(root: int) -> set[int]:
    table = process_table()
    found, frontier = set(), {root}
    while frontier:
        children = {pid for pid, (ppid, _) in table.items() if ppid in frontier}
        frontier = children - found
        found |= children
    return found


def still_running(pids: set[int]) -> set[int]:
    table = process_table()
    return {pid for pid in pids if pid in table and not table[pid][1].startswith("Z")}


class MakeRun:
    """`make run` in its own session (like a terminal or a service manager gives it)."""

    def __init__(self, state_dir: Path, ports: StackPorts) -> None:
        env = dict(os.environ, STATE_DIR=str(state_dir), RASA_PORT=str(ports.rasa),
                   ACTION_SERVER_PORT=str(ports.actions), CONSOLE_PORT=str(ports.console),
                   SIMULATOR_PORT=str(ports.simulator))
        env.pop("WHATSAPP_ACCESS_TOKEN", None)
        self.ports = ports
        self.output: list[str] = []
        self.process = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=ROOT,
                                        env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.output.append(line)

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not any(line.startswith("Listo.") for line in self.output):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("make run did not start:\n" + "".join(self.output[-30:]))
            time.sleep(0.5)

    def talk(self) -> None:
        simulator = f"http://127.0.0.1:{self.ports.simulator}"
        httpx.post(f"{simulator}/_sim/send", json={"wa_id": PHONE, "type": "text",
                                                   "text": SECRET_WORDS}, timeout=10)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            events = httpx.get(f"{simulator}/_sim/conversations/{PHONE}", timeout=10).json()
            if any(e["direction"] == "out" for e in events["events"]):
                return
            time.sleep(0.3)
        raise AssertionError("no answer at the simulator")

    def stop_with(self, deliver) -> set[int]:
        """Signal it; returns the processes it had started that are still running after."""
        started = descendants(self.process.pid)
        assert len(started) >= 5, started  # python, simulator, actions, rasa, console
        deliver(self.process.pid)
        self.process.wait(timeout=60)
        deadline = time.monotonic() + 10
        while still_running(started) and time.monotonic() < deadline:
            time.sleep(0.2)
        return still_running(started)


def listening_addresses(port: int) -> set[str]:
    """The IPv4/IPv6 addresses something listens on at ``port`` (from /proc/net)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1


def _logs(state_dir: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8", errors="replace")
            for p in (state_dir / "logs").iterdir()}


def test_make_run_stops_everything_and_keeps_clean_fresh_logs(tmp_path):
    # SIGTERM to make's pid, as `kill` or a service manager sends it
    first = MakeRun(tmp_path, StackPorts.free())
    try:
        first.wait_ready()
        ports = first.ports
        for port in (ports.rasa, ports.actions, ports.console, ports.simulator):
            addresses = listening_addresses(port)
            assert addresses and addresses <= LOOPBACK, (port, addresses)  # BIND_HOST default
        first.talk()
        left = first.stop_with(lambda pid: os.kill(pid, signal.SIGTERM))
    finally:
        if first.process.poll() is None:
            os.killpg(first.process.pid, signal.SIGKILL)
    assert left == set(), f"still running after SIGTERM: {left}"
    logs = _logs(tmp_path)
    first_rasa_log = logs["rasa.log"]
    assert "Rasa server is up" in first_rasa_log
    for name, text in logs.items():
        assert "DeprecationWarning" not in text and "FutureWarning" not in text, name
        assert PHONE not in text and "Rosalinda" not in text and "Renca" not in text, name
        assert len(text.splitlines()) < 100, (name, len(text.splitlines()))

    # Ctrl-C: SIGINT to the whole foreground process group, as a terminal sends it
    second = MakeRun(tmp_path, StackPorts.free())
    try:
        second.wait_ready()
        left = second.stop_with(lambda pid: os.killpg(pid, signal.SIGINT))
    finally:
        if second.process.poll() is None:
            os.killpg(second.process.pid, signal.SIGKILL)
    assert left == set(), f"still running after Ctrl-C: {left}"
    logs = _logs(tmp_path)
    assert logs["rasa.log.1"] == first_rasa_log  # the previous run, kept once
    assert "Rasa server is up" in logs["rasa.log"] and PHONE not in logs["rasa.log"]
    assert not any(name.endswith(".log.2") for name in logs)
