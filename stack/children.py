"""Child processes of the stack: each in its own process group, logs that start fresh.

Every child is the leader of a new process group (``start_new_session``), so stopping it
stops whatever it started too (nginx's workers, a server's helper processes): SIGTERM to the
group, then SIGKILL to whatever is left after a grace period. On Linux each child also asks
the kernel for SIGTERM if the launcher itself dies (``PR_SET_PDEATHSIG``), so even a
``kill -9`` of ``make run`` leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def rotate_logs(log_dir: Path) -> None:
    """Keep the previous run's logs as ``NAME.log.1``; this run starts with empty files."""
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for log in log_dir.glob("*.log"):
        log.replace(log.with_name(log.name + ".1"))


@dataclass
class Child:
    name: str
    process: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """``kill -9`` of the whole group (fault tests), and reap it."""
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


def spawn(name: str, args: Sequence[str], *, cwd: Path, env: dict[str, str],
          log_dir: Path) -> Child:
    """Start ``args`` as the leader of a new process group, output appended to NAME.log."""
    log_path = log_dir / f"{name}.log"
    descriptor = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    # The kernel's «parent died» signal follows the THREAD that forked the child, not the
    # process: a child started from another thread (a fault test restarting Rasa) would be
    # killed as soon as that thread ends. Only children of the main thread get it.
    on_parent_death = _die_with_parent if threading.current_thread() is threading.main_thread() \
        else None
    with os.fdopen(descriptor, "ab") as log:
        process = subprocess.Popen(list(args), cwd=cwd, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, preexec_fn=on_parent_death)
    return Child(name, process)


def stop_all(children: Sequence[Child], grace: float = 15.0) -> None:
    """SIGTERM every group (in reverse start order), wait up to ``grace`` s, then SIGKILL."""
    for child in reversed(children):
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in reversed(children):
        remaining = max(0.1, deadline - time.monotonic())
        try:
            child.process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            pass
        # the leader may be gone while something it started still runs: SIGKILL the group
        child.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=5)
