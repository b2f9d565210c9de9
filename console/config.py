"""Console settings from the environment (documented in console/README.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from console.client import DEFAULT_TRUSTED, Network, parse_networks
from console.throttle import DelayPolicy
from handoff.assignment import DEFAULT_CAP
from handoff.sla import SlaPolicy

TRUE = ("1", "true", "yes", "si", "sí", "on")


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        value = float(env.get(name, "") or default)
    except ValueError:
        return default
    return value if value > 0 and value == value else default  # NaN != NaN


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    try:
        return int(env.get(name, "") or default)
    except ValueError:
        return default


@dataclass(frozen=True)
class Settings:
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = ""
    secret: str = ""
    secure_cookies: bool = False
    output_channel: str = "whatsapp"
    session_hours: float = 12.0
    poll_seconds: int = 4
    # progressive login delays (console/throttle.py); failures older than the window are forgotten
    login_free_attempts: int = 3
    login_delay_seconds: float = 5.0
    login_max_delay_account: float = 60.0
    login_max_delay_address: float = 900.0
    login_window_minutes: int = 60
    # supervisors must enrol a TOTP second factor (specialists may)
    totp_supervisors: bool = True
    # a session unused this long is refused (polls of /api/ do not count as use)
    idle_minutes: float = 30.0
    # Ask channels.whatsapp.window whether the 24-hour window is open (else use the tracker).
    use_channel_window: bool = True
    # follow-ups after 24 hours: the WhatsApp template (unset: no follow-ups)
    template_name: str | None = None
    template_language: str = "es"
    # service levels (SLA_*_MINUTES) and capacity-aware assignment
    sla: SlaPolicy = field(default_factory=SlaPolicy)
    auto_assign: bool = False
    cases_per_specialist: int = DEFAULT_CAP
    auto_assign_seconds: float = 5.0
    one_time_code_hours: int = 24
    db_threads: int = 8
    # proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (nginx runs locally)
    trusted_proxies: tuple[Network, ...] = parse_networks(DEFAULT_TRUSTED)

    @property
    def delays(self) -> DelayPolicy:
        return DelayPolicy(self.login_free_attempts, self.login_delay_seconds,
                           self.login_max_delay_account, self.login_max_delay_address)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            rasa_url=(env.get("RASA_URL") or cls.rasa_url).rstrip("/"),
            rasa_token=env.get("RASA_API_TOKEN", ""),
            secret=env.get("CONSOLE_SECRET", ""),
            secure_cookies=env.get("CONSOLE_SECURE_COOKIES", "").lower() in TRUE,
            template_name=env.get("WHATSAPP_TEMPLATE_NAME") or None,
            template_language=env.get("WHATSAPP_TEMPLATE_LANGUAGE") or "es",
            sla=SlaPolicy.from_env(env),
            auto_assign=env.get("AUTO_ASSIGN", "").lower() in TRUE,
            cases_per_specialist=max(1, _int(env, "CASES_PER_SPECIALIST", DEFAULT_CAP)),
            one_time_code_hours=max(1, _int(env, "ONE_TIME_CODE_HOURS", 24)),
            login_free_attempts=max(1, _int(env, "CONSOLE_LOGIN_FREE_ATTEMPTS", 3)),
            login_delay_seconds=_float(env, "CONSOLE_LOGIN_DELAY_SECONDS", 5.0),
            login_max_delay_account=_float(env, "CONSOLE_LOGIN_MAX_DELAY_ACCOUNT", 60.0),
            login_max_delay_address=_float(env, "CONSOLE_LOGIN_MAX_DELAY_ADDRESS", 900.0),
            login_window_minutes=max(1, _int(env, "CONSOLE_LOGIN_WINDOW_MINUTES", 60)),
            idle_minutes=_float(env, "CONSOLE_IDLE_MINUTES", 30.0),
            totp_supervisors=(env.get("CONSOLE_TOTP_SUPERVISORS") or "1").lower() in TRUE,
            trusted_proxies=parse_networks(env.get("CONSOLE_TRUSTED_PROXIES")
                                           or ",".join(DEFAULT_TRUSTED)),
        )
