"""WhatsApp channel settings, read only from environment variables.

Without ``WHATSAPP_ACCESS_TOKEN`` the channel runs in *sandbox* mode against the
local simulator (``python -m simulator``), with the fixed defaults below, which the
simulator shares. With the token set, the phone number id, app secret and verify
token are required; a missing one stops the server at startup.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from urllib.parse import urlsplit

from rasa.shared.exceptions import RasaException

from channels.whatsapp.nudge import parse_addresses

SANDBOX_ACCESS_TOKEN = "sandbox-token"
SANDBOX_PHONE_NUMBER_ID = "sandbox-phone-id"
SANDBOX_APP_SECRET = "sandbox-secret"
SANDBOX_VERIFY_TOKEN = "sandbox-verify"
SANDBOX_API_URL = "http://127.0.0.1:8090/v21.0"
GRAPH_API_URL = "https://graph.facebook.com/v21.0"
DEFAULT_TEMPLATE_LANGUAGE = "es"

REQUIRED_WITH_TOKEN = (
    "WHATSAPP_PHONE_NUMBER_ID",
    "WHATSAPP_APP_SECRET",
    "WHATSAPP_VERIFY_TOKEN",
)


SANDBOX_SECRETS = {
    "WHATSAPP_ACCESS_TOKEN": SANDBOX_ACCESS_TOKEN,
    "WHATSAPP_APP_SECRET": SANDBOX_APP_SECRET,
    "WHATSAPP_VERIFY_TOKEN": SANDBOX_VERIFY_TOKEN,
}


class WhatsAppConfigError(RasaException):
    """The WhatsApp environment is incomplete or invalid; the server must not start."""


@dataclass(frozen=True)
class Tuning:
    """Inbox workers and the outbox sender. Each field has a ``WHATSAPP_<NAME>`` variable
    (e.g. ``WHATSAPP_SEND_RATE``); the defaults are for production."""

    inbox_concurrency: int = 4  # Rasa turns in flight per instance (different senders)
    drain_seconds: float = 10.0  # SIGTERM: wait at most this long for turns and sends
    poll_seconds: float = 0.25  # look for work from other instances this often
    stale_seconds: float = 20.0  # an instance silent this long is dead; its work is replayed
    send_rate: float = 80.0  # messages/s of the whole deployment (Meta: 80 per number)
    pair_burst: int = 5  # messages to one user at once before spacing them
    pair_interval: float = 6.0  # then one message every this many seconds (Meta: ~6 s)
    send_max_backoff: float = 30.0  # longest wait between tries of a transient failure
    send_max_age: float = 24 * 3600.0  # give up (failed) on a message older than this
    reconcile_seconds: float = 60.0  # wait for Meta's status of a send cut by a crash

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Tuning:
        values = {}
        for item in fields(cls):
            raw = (env.get("WHATSAPP_" + item.name.upper()) or "").strip()
            if not raw:
                continue
            try:
                value = int(raw) if item.type in ("int", int) else float(raw)
            except ValueError:
                raise WhatsAppConfigError(
                    f"WHATSAPP_{item.name.upper()} must be a number") from None
            if value <= 0:
                raise WhatsAppConfigError(f"WHATSAPP_{item.name.upper()} must be positive")
            values[item.name] = value
        return cls(**values)


@dataclass(frozen=True)
class WhatsAppConfig:
    access_token: str
    phone_number_id: str
    app_secret: str
    verify_token: str
    api_url: str
    template_name: str | None = None
    template_language: str = DEFAULT_TEMPLATE_LANGUAGE
    sandbox: bool = False
    tuning: Tuning = field(default_factory=Tuning)
    # nudge.py: where this Rasa instance hears of new messages (UDP), where a receiver sends
    nudge_listen: tuple[str, int] | None = None
    nudge_to: tuple[tuple[str, int], ...] = ()

    def __repr__(self) -> str:  # never print secrets
        return (
            f"WhatsAppConfig(sandbox={self.sandbox}, api_url={self.api_url!r}, "
            f"template={'set' if self.template_name else 'unset'})"
        )

    @classmethod
    def sandbox_defaults(cls, api_url: str = SANDBOX_API_URL) -> WhatsAppConfig:
        """The fixed sandbox settings (what the simulator expects)."""
        return cls(
            access_token=SANDBOX_ACCESS_TOKEN,
            phone_number_id=SANDBOX_PHONE_NUMBER_ID,
            app_secret=SANDBOX_APP_SECRET,
            verify_token=SANDBOX_VERIFY_TOKEN,
            api_url=api_url,
            sandbox=True,
        )


def load_config(env: Mapping[str, str] | None = None) -> WhatsAppConfig:
    """Build the settings from ``env`` (default ``os.environ``); raise on missing values."""
    env = os.environ if env is None else env

    def get(name: str) -> str | None:
        value = (env.get(name) or "").strip()
        return value or None

    token = get("WHATSAPP_ACCESS_TOKEN")
    sandbox = token is None
    if not sandbox:
        missing = [name for name in REQUIRED_WITH_TOKEN if get(name) is None]
        if missing:
            raise WhatsAppConfigError(
                "WHATSAPP_ACCESS_TOKEN is set, so the WhatsApp channel also needs "
                + ", ".join(missing)
                + ". Set them, or unset WHATSAPP_ACCESS_TOKEN to use the local simulator."
            )
        _refuse_sandbox_secrets(get)
    api_url = (get("WHATSAPP_API_URL") or (SANDBOX_API_URL if sandbox else GRAPH_API_URL))
    if not api_url.startswith(("http://", "https://")):
        raise WhatsAppConfigError("WHATSAPP_API_URL must start with http:// or https://")
    if not sandbox and api_url.startswith("http://") and not is_loopback_url(api_url):
        raise WhatsAppConfigError(
            "WHATSAPP_API_URL uses http:// on a host that is not this machine: the access "
            "token and her messages would cross the network unencrypted. Use https://.")
    return WhatsAppConfig(
        access_token=token or SANDBOX_ACCESS_TOKEN,
        phone_number_id=get("WHATSAPP_PHONE_NUMBER_ID") or SANDBOX_PHONE_NUMBER_ID,
        app_secret=get("WHATSAPP_APP_SECRET") or SANDBOX_APP_SECRET,
        verify_token=get("WHATSAPP_VERIFY_TOKEN") or SANDBOX_VERIFY_TOKEN,
        api_url=api_url.rstrip("/"),
        template_name=get("WHATSAPP_TEMPLATE_NAME"),
        template_language=get("WHATSAPP_TEMPLATE_LANGUAGE") or DEFAULT_TEMPLATE_LANGUAGE,
        sandbox=sandbox,
        tuning=Tuning.from_env(env),
        **_nudge_settings(get),
    )


def _nudge_settings(get: Callable[[str], str | None]) -> dict:
    try:
        listen = parse_addresses(get("WHATSAPP_NUDGE_LISTEN"))
        send_to = parse_addresses(get("WHATSAPP_NUDGE_TO"))
    except ValueError as error:
        raise WhatsAppConfigError(f"WHATSAPP_NUDGE_LISTEN / WHATSAPP_NUDGE_TO: {error}") from None
    if len(listen) > 1:
        raise WhatsAppConfigError("WHATSAPP_NUDGE_LISTEN takes one host:port")
    return {"nudge_listen": listen[0] if listen else None, "nudge_to": tuple(send_to)}


def _refuse_sandbox_secrets(get: Callable[[str], str | None]) -> None:
    """Real mode with a secret everybody knows (it is in this repository) is refused."""
    public = [name for name, value in SANDBOX_SECRETS.items() if get(name) == value]
    if public:
        raise WhatsAppConfigError(
            "real mode (WHATSAPP_ACCESS_TOKEN set) with the public sandbox value of "
            + ", ".join(public) + ": set the real secrets from the Meta app")


def is_loopback_url(url: str) -> bool:
    """True if ``url``'s host is this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
