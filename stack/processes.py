"""The service as processes: action server, Rasa server (WhatsApp + REST channels), console and,
without WhatsApp credentials, the simulator. One class starts them in order, waits until each
answers, and stops them all (also on error)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from simulator.serving import free_port

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class StackPorts:
    rasa: int = 5005
    actions: int = 5055
    console: int = 8080
    simulator: int = 8090

    @classmethod
    def free(cls) -> StackPorts:
        return cls(free_port(), free_port(), free_port(), free_port())


@dataclass
class Stack:
    """Start with ``with Stack(...) as stack:``; URLs are attributes."""

    ports: StackPorts = field(default_factory=StackPorts)
    model: Path = ROOT / "models" / "asistente.tar.gz"
    state_dir: Path | None = None  # databases and logs; a temp dir if None
    simulator: bool | None = None  # None: only when WHATSAPP_ACCESS_TOKEN is unset
    console: bool = True
    rest: bool | None = None  # Rasa's REST channel; None: only in sandbox (simulator) mode
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._procs: list[tuple[str, subprocess.Popen]] = []
        self._commands: dict[str, list[str]] = {}  # for restart()
        self._owns_state = self.state_dir is None
        self.state_dir = Path(self.state_dir or tempfile.mkdtemp(prefix="helpline-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir = self.state_dir / "logs"
        self.log_dir.mkdir(exist_ok=True)
        self.api_token = os.environ.get("RASA_API_TOKEN") or secrets.token_urlsafe(24)
        self.log_hash_key = secrets.token_urlsafe(24)  # one per run: ids match across logs
        if self.simulator is None:
            self.simulator = not os.environ.get("WHATSAPP_ACCESS_TOKEN")
        if self.rest is None:
            self.rest = bool(self.simulator)

    # --- URLs -------------------------------------------------------------------------------
    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.rasa}"

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.console}"

    @property
    def simulator_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.simulator}"

    @property
    def webhook_url(self) -> str:
        return f"{self.rasa_url}/webhooks/whatsapp/webhook"

    # --- environment --------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            RASA_TELEMETRY_ENABLED="false",
            TF_CPP_MIN_LOG_LEVEL="2",
            SQLALCHEMY_SILENCE_UBER_WARNING="1",
            PYTHONPATH=str(ROOT),
            RASA_URL=self.rasa_url,
            RASA_API_TOKEN=self.api_token,
        )
        env.setdefault("LOG_HASH_KEY", self.log_hash_key)
        env.setdefault("DATABASE_URL", f"sqlite:///{self.state_dir / 'helpline.db'}")
        if self.simulator:
            env["WHATSAPP_API_URL"] = f"{self.simulator_url}/v21.0"
        env.update(self.extra_env)
        return env

    def _endpoints_file(self) -> Path:
        """endpoints.yml with this stack's action server port and tracker database."""
        endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
        endpoints["action_endpoint"]["url"] = f"http://127.0.0.1:{self.ports.actions}/webhook"
        if endpoints.get("tracker_store", {}).get("dialect") == "sqlite":
            endpoints["tracker_store"]["db"] = str(self.state_dir / "tracker.db")
        path = self.state_dir / "endpoints.yml"
        path.write_text(yaml.safe_dump(endpoints), encoding="utf-8")
        return path

    def _credentials_file(self) -> Path:
        """credentials.yml, plus Rasa's REST channel when asked (local runs, benchmarks).

        REST accepts unauthenticated messages for any conversation id, so it is never on
        in the shipped credentials.yml that a deployment uses.
        """
        if not self.rest:
            return ROOT / "credentials.yml"
        credentials = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
        credentials = dict(credentials or {})
        credentials["rest"] = None
        path = self.state_dir / "credentials.yml"
        path.write_text(yaml.safe_dump(credentials), encoding="utf-8")
        return path

    # --- processes -----------------------------------------------------------------------------
    def _spawn(self, name: str, args: list[str]) -> None:
        self._commands[name] = args
        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(args, cwd=ROOT, env=self.env(), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self._procs.append((name, proc))

    def _wait(self, name: str, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        proc = dict(self._procs)[name]
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.log_dir}/{name}.log")
            try:
                if httpx.get(url, timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"{name} did not answer at {url} within {timeout:.0f}s")

    def start(self, timeout: float = 180.0) -> Stack:
        try:
            if not self.model.exists():
                raise FileNotFoundError(f"no model at {self.model}: run `make train`")
            if self.simulator:
                self._spawn("simulator", [sys.executable, "-m", "simulator", "--port",
                                          str(self.ports.simulator), "--webhook-url", self.webhook_url])
            self._spawn("actions", [sys.executable, "-m", "rasa_sdk", "--actions", "actions",
                                    "--port", str(self.ports.actions)])
            self._spawn("rasa", [
                str(VENV_BIN / "rasa"), "run", "--enable-api", "--auth-token", self.api_token,
                "--model", str(self.model), "--endpoints", str(self._endpoints_file()),
                "--credentials", str(self._credentials_file()), "--port", str(self.ports.rasa),
            ])
            if self.console:
                self._spawn("console", [sys.executable, "-m", "console", "--port",
                                        str(self.ports.console)])
            if self.simulator:
                self._wait("simulator", self.simulator_url + "/", timeout)
            self._wait("actions", f"http://127.0.0.1:{self.ports.actions}/health", timeout)
            self._wait("rasa", f"{self.rasa_url}/status?token={self.api_token}", timeout)
            if self.console:
                self._wait("console", self.console_url + "/login", timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _ready_url(self, name: str) -> str:
        return {"simulator": self.simulator_url + "/",
                "actions": f"http://127.0.0.1:{self.ports.actions}/health",
                "rasa": f"{self.rasa_url}/status?token={self.api_token}",
                "console": self.console_url + "/login"}[name]

    def kill(self, name: str) -> None:
        """kill -9 one process (fault tests): it gets no chance to clean up."""
        for proc_name, proc in self._procs:
            if proc_name == name and proc.poll() is None:
                proc.kill()
                proc.wait(10)

    def restart(self, name: str, timeout: float = 180.0) -> None:
        """Start a killed process again with the same command; wait until it answers."""
        self._procs = [(n, p) for n, p in self._procs if n != name or p.poll() is None]
        if any(n == name for n, _ in self._procs):
            raise RuntimeError(f"{name} is still running")
        self._spawn(name, self._commands[name])
        self._wait(name, self._ready_url(name), timeout)

    def stop(self) -> None:
        for _, proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in reversed(self._procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._procs.clear()

    def cleanup(self) -> None:
        self.stop()
        if self._owns_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
