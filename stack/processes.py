"""The service as processes: action server, one or more Rasa servers (WhatsApp channel, HTTP
API; REST in sandbox), the webhook receiver and nginx in front of them in the production
topology, the console and, without WhatsApp credentials, the simulator. One class starts them
in order, waits until each answers, and stops them all (also on error), each with its whole
process group.

Every process listens on ``bind_host`` (``BIND_HOST``, default 127.0.0.1). The public
Rasa port (``ports.rasa``) is Rasa itself in the embedded topology and nginx in the
production one, where the instances listen on ``ports.instances`` and the webhook receiver
(channels/whatsapp/receiver.py) on ``ports.receiver``: nginx sends Meta's webhooks there. The
receiver wakes an instance with a datagram to the instance's own port number (UDP).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from simulator.serving import bind
from stack import nginx
from stack.children import Child, rotate_logs, spawn, stop_all
from stack.topology import EMBEDDED_ENDPOINTS, Topology, TopologyError, production_defaults

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BIND_HOST = "127.0.0.1"
LOGGING_CONFIG = ROOT / "logging.yml"  # Rasa's logging, through the log scrubber

# Python warnings that Rasa, TensorFlow and SQLAlchemy print by the hundred at each start
QUIET_WARNINGS = ("ignore::DeprecationWarning,ignore::PendingDeprecationWarning,"
                  "ignore::FutureWarning,ignore::ResourceWarning")


@dataclass(frozen=True)
class StackPorts:
    rasa: int = 5005
    actions: int = 5055
    console: int = 8080
    simulator: int = 8090
    instances: tuple[int, ...] = ()  # Rasa instances behind nginx; default rasa+1, rasa+2…
    receiver: int = 5004  # the webhook receiver (production topology, or when asked)

    @classmethod
    def free(cls, instances: int = 0) -> StackPorts:
        """Ports free now, all different: every socket stays bound until all are chosen
        (one at a time, the kernel may hand out a just-released port twice: nginx and the
        action server once got the same one)."""
        with ExitStack() as held:
            ports = [held.enter_context(bind("127.0.0.1")).getsockname()[1]
                     for _ in range(5 + instances)]
        return cls(*ports[:4], tuple(ports[5:]), receiver=ports[4])

    @classmethod
    def from_env(cls) -> StackPorts:
        env = os.environ
        return cls(int(env.get("RASA_PORT", 5005)), int(env.get("ACTION_SERVER_PORT", 5055)),
                   int(env.get("CONSOLE_PORT", 8080)), int(env.get("SIMULATOR_PORT", 8090)),
                   receiver=int(env.get("WEBHOOK_RECEIVER_PORT", 5004)))

    def instance_ports(self, count: int) -> tuple[int, ...]:
        if len(self.instances) >= count:
            return self.instances[:count]
        return tuple(self.rasa + 1 + i for i in range(count))


@dataclass
class Stack:
    """Start with ``with Stack(...) as stack:``; URLs are attributes."""

    ports: StackPorts = field(default_factory=StackPorts)
    model: Path = ROOT / "models" / "asistente.tar.gz"
    state_dir: Path | None = None  # databases and logs; a temp dir if None
    simulator: bool | None = None  # None: only when WHATSAPP_ACCESS_TOKEN is unset
    simulator_statuses: bool = False  # the simulator sends Meta's sent/delivered statuses
    console: bool = True
    rest: bool | None = None  # Rasa's REST channel; None: only in sandbox (simulator) mode
    extra_env: dict[str, str] = field(default_factory=dict)
    endpoints: Path = EMBEDDED_ENDPOINTS
    rasa_instances: int = 1
    bind_host: str = field(default_factory=lambda: os.environ.get("BIND_HOST")
                           or DEFAULT_BIND_HOST)
    instance_env: dict[str, dict[str, str]] = field(default_factory=dict)  # by child name
    webhook_receiver: bool | None = None  # None: in the production topology only

    def __post_init__(self) -> None:
        self.topology = Topology(Path(self.endpoints), self.rasa_instances)
        if self.webhook_receiver is None:
            self.webhook_receiver = self.topology.proxied
        self.children: list[Child] = []
        self._commands: dict[str, list[str]] = {}  # for restart()
        self._command_env: dict[str, dict[str, str]] = {}
        self._owns_state = self.state_dir is None
        self.state_dir = Path(self.state_dir or tempfile.mkdtemp(prefix="helpline-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir = self.state_dir / "logs"
        self.api_token = os.environ.get("RASA_API_TOKEN") or secrets.token_urlsafe(24)
        # the secret Rasa sends to the action server (endpoints files, actions/server.py)
        self.action_token = os.environ.get("ACTION_SERVER_TOKEN") or secrets.token_urlsafe(32)
        self.log_hash_key = secrets.token_urlsafe(24)  # one per run: ids match across logs
        if self.simulator is None:
            self.simulator = not os.environ.get("WHATSAPP_ACCESS_TOKEN")
        if self.rest is None:
            self.rest = bool(self.simulator)

    # --- URLs -------------------------------------------------------------------------------
    @property
    def local_host(self) -> str:
        """Where this machine reaches the processes (loopback when bound to all interfaces)."""
        return "127.0.0.1" if self.bind_host in ("0.0.0.0", "::", "") else self.bind_host

    def _url(self, port: int) -> str:
        return f"http://{self.local_host}:{port}"

    @property
    def rasa_url(self) -> str:
        """The one entry point: nginx in the production topology, else Rasa itself."""
        return self._url(self.ports.rasa)

    @property
    def instance_urls(self) -> list[str]:
        if not self.topology.proxied:
            return [self.rasa_url]
        return [self._url(p) for p in self.ports.instance_ports(self.rasa_instances)]

    @property
    def actions_url(self) -> str:
        return self._url(self.ports.actions)

    @property
    def console_url(self) -> str:
        return self._url(self.ports.console)

    @property
    def simulator_url(self) -> str:
        return self._url(self.ports.simulator)

    @property
    def receiver_url(self) -> str:
        return self._url(self.ports.receiver)

    @property
    def webhook_url(self) -> str:
        """Meta's callback URL: nginx in the production topology (it sends the webhooks to
        the receiver), else the receiver if there is one, else Rasa."""
        entry = self.receiver_url if self.webhook_receiver and not self.topology.proxied \
            else self.rasa_url
        return f"{entry}/webhooks/whatsapp/webhook"

    # --- environment --------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            RASA_TELEMETRY_ENABLED="false",
            TF_CPP_MIN_LOG_LEVEL="2",
            SQLALCHEMY_SILENCE_UBER_WARNING="1",
            PYTHONWARNINGS=QUIET_WARNINGS,
            PYTHONPATH=str(ROOT),
            RASA_URL=self.rasa_url,
            RASA_API_TOKEN=self.api_token,
            ACTION_SERVER_TOKEN=self.action_token,
            SANIC_HOST=self.bind_host,  # the action server reads it
        )
        env.setdefault("LOG_HASH_KEY", self.log_hash_key)
        if not env.get("HELPLINE_DATA_KEY"):
            env.setdefault("HELPLINE_DATA_KEY_FILE", str(self.state_dir / "helpline_data.key"))
        if self.topology.shared_lock_store:
            defaults = production_defaults(f"{self.actions_url}/webhook")
            defaults.update(SQL_POOL_SIZE="5", SQL_MAX_OVERFLOW="10", TICKET_LOCK_LIFETIME="15")
            for name, value in defaults.items():
                env.setdefault(name, value)
        env.setdefault("DATABASE_URL", f"sqlite:///{self.state_dir / 'helpline.db'}")
        if self.simulator:
            env["WHATSAPP_API_URL"] = f"{self.simulator_url}/v21.0"
        env.update(self.extra_env)
        return env

    def _endpoints_file(self) -> Path:
        if self.topology.shared_lock_store:
            return self.topology.endpoints  # its ${VAR}s come from env()
        return self.topology.embedded_endpoints(self.state_dir, f"{self.actions_url}/webhook")

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

    @contextmanager
    def data_key_here(self) -> Iterator[None]:
        """Within the block, this process reads the queue with the stack's data key (a test
        looking tickets up: they are found by a digest keyed with it, and read sealed)."""
        env = self.env()
        names = ("HELPLINE_DATA_KEY", "HELPLINE_DATA_KEY_FILE")
        previous = {name: os.environ.get(name) for name in names}
        for name in names:
            os.environ.pop(name, None)
            if env.get(name):
                os.environ[name] = env[name]
        try:
            yield
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def ensure_data_key(self) -> bool:
        """Sandbox: make sure the data key file exists before the processes race to create
        it. Real mode refuses to start without HELPLINE_DATA_KEY. True if a key was made."""
        from store.crypto import KeyConfigError, data_keyring

        env = self.env()
        if env.get("HELPLINE_DATA_KEY"):
            return False
        if env.get("WHATSAPP_ACCESS_TOKEN"):
            raise KeyConfigError("modo real sin HELPLINE_DATA_KEY: genera una clave con "
                                 "Fernet.generate_key() y pásala en el entorno")
        existed = Path(env["HELPLINE_DATA_KEY_FILE"]).exists()
        with self.data_key_here():
            data_keyring()  # creates the key file, once
        return not existed

    # --- processes -----------------------------------------------------------------------------
    def _spawn(self, name: str, args: list[str], env_extra: dict[str, str] | None = None) -> Child:
        self._commands[name] = args
        self._command_env[name] = dict(env_extra or {})
        env = {**self.env(), **(env_extra or {}), **self.instance_env.get(name, {})}
        child = spawn(name, args, cwd=ROOT, env=env, log_dir=self.log_dir)
        self.children.append(child)
        return child

    def child(self, name: str) -> Child:
        return next(c for c in self.children if c.name == name)

    def _log_tail(self, name: str, lines: int = 25) -> str:
        try:
            text = (self.log_dir / f"{name}.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _wait(self, name: str, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        child = self.child(name)
        while time.monotonic() < deadline:
            if not child.alive():
                raise RuntimeError(f"{name} exited with {child.process.returncode}; "
                                   f"the end of {self.log_dir}/{name}.log (removed with the "
                                   f"stack's folder):\n{self._log_tail(name)}")
            try:
                if httpx.get(url, timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"{name} did not answer at {url} within {timeout:.0f}s")

    def rasa_names(self) -> list[str]:
        if not self.topology.proxied:
            return ["rasa"]
        return [f"rasa-{i + 1}" for i in range(self.rasa_instances)]

    def _rasa_args(self, port: int) -> list[str]:
        return [sys.executable, "-m", "stack.quiet", "rasa", "run", "--enable-api",
                f"--auth-token={self.api_token}", "--model", str(self.model),
                "--endpoints", str(self._endpoints_file()),
                "--credentials", str(self._credentials_file()), "--interface", self.bind_host,
                "--port", str(port), "--logging-config-file", str(LOGGING_CONFIG)]

    def _actions_args(self) -> list[str]:
        """The action server behind the shared secret (actions/server.py)."""
        return [sys.executable, "-m", "stack.quiet", "actions.server", "--actions", "actions",
                "--port", str(self.ports.actions)]

    def start_rasa(self, name: str) -> Child:
        """Start (or restart, after a fault test killed it) one Rasa instance."""
        index = self.rasa_names().index(name)
        port = self._rasa_ports()[index]
        self.children = [c for c in self.children if c.name != name]
        nudges = {"WHATSAPP_NUDGE_LISTEN": f"{self.bind_host}:{port}"} \
            if self.webhook_receiver else {}
        return self._spawn(name, self._rasa_args(port), nudges)

    def _rasa_ports(self) -> tuple[int, ...]:
        return (self.ports.instance_ports(self.rasa_instances) if self.topology.proxied
                else (self.ports.rasa,))

    def _start_receiver(self) -> None:
        nudge_to = ",".join(f"{self.local_host}:{port}" for port in self._rasa_ports())
        self._spawn("receiver", [sys.executable, "-m", "stack.quiet",
                                 "channels.whatsapp.receiver", "--host", self.bind_host,
                                 "--port", str(self.ports.receiver)],
                    {"WHATSAPP_NUDGE_TO": nudge_to})

    def _start_nginx(self) -> None:
        executable = nginx.binary()
        if executable is None:
            raise FileNotFoundError(nginx.INSTALL_HINT)
        upstream = self.ports.instance_ports(self.rasa_instances)
        config = nginx.write_config(
            self.state_dir / "nginx", self.log_dir, self.bind_host, self.ports.rasa, upstream,
            upstream_host=self.local_host,
            webhook_port=self.ports.receiver if self.webhook_receiver else None)
        self._spawn("nginx", nginx.command(executable, config))

    def start(self, timeout: float = 240.0) -> Stack:
        try:
            if not self.model.exists():
                raise FileNotFoundError(f"no model at {self.model}: run `make train`")
            if self.topology.proxied and nginx.binary() is None:
                raise FileNotFoundError(nginx.INSTALL_HINT)
            rotate_logs(self.log_dir)
            self.ensure_data_key()
            if self.simulator:
                self._spawn("simulator", [sys.executable, "-m", "stack.quiet", "simulator",
                                          "--host", self.bind_host,
                                          "--port", str(self.ports.simulator),
                                          "--webhook-url", self.webhook_url,
                                          *(["--statuses"] if self.simulator_statuses else [])])
            self._spawn("actions", self._actions_args())
            for name in self.rasa_names():
                self.start_rasa(name)
            if self.webhook_receiver:
                self._start_receiver()
            if self.topology.proxied:
                self._start_nginx()
            if self.console:
                self._spawn("console", [sys.executable, "-m", "stack.quiet", "console", "--host",
                                        self.bind_host, "--port", str(self.ports.console)])
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float = 240.0) -> None:
        if self.simulator:
            self._wait("simulator", self.simulator_url + "/", timeout)
        self._wait("actions", f"{self.actions_url}/health", timeout)
        if self.webhook_receiver:
            self._wait("receiver", self._ready_url("receiver"), timeout)
        for name, url in zip(self.rasa_names(), self.instance_urls, strict=False):
            self.wait_rasa(name, url, timeout)
        if self.topology.proxied:
            self._wait("nginx", f"{self.rasa_url}/status?token={self.api_token}", timeout)
        if self.console:
            self._wait("console", self.console_url + "/login", timeout)

    def wait_rasa(self, name: str, url: str | None = None, timeout: float = 240.0) -> None:
        if url is None:
            url = self.instance_urls[self.rasa_names().index(name)]
        self._wait(name, f"{url}/status?token={self.api_token}", timeout)

    def _ready_url(self, name: str) -> str:
        if name in self.rasa_names():
            url = self.instance_urls[self.rasa_names().index(name)]
            return f"{url}/status?token={self.api_token}"
        return {"simulator": self.simulator_url + "/",
                "actions": f"{self.actions_url}/health",
                "nginx": f"{self.rasa_url}/status?token={self.api_token}",
                "receiver": f"{self.receiver_url}/webhooks/whatsapp/ready",
                "console": self.console_url + "/login"}[name]

    def kill(self, name: str) -> None:
        """kill -9 one process (fault tests): it gets no chance to clean up."""
        child = self.child(name)
        if child.alive():
            child.kill()

    def restart(self, name: str, timeout: float = 180.0) -> None:
        """Start a killed process again with the same command; wait until it answers."""
        if self.child(name).alive():
            raise RuntimeError(f"{name} is still running")
        self.children = [c for c in self.children if c.name != name]
        self._spawn(name, self._commands[name], self._command_env.get(name))
        self._wait(name, self._ready_url(name), timeout)

    def stop(self) -> None:
        stop_all(self.children)
        self.children.clear()

    def cleanup(self) -> None:
        self.stop()
        if self._owns_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


__all__ = ["Stack", "StackPorts", "TopologyError"]
