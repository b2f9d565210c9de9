"""Console settings from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = ""
    secret: str = ""
    secure_cookies: bool = False
    output_channel: str = "whatsapp"
    session_hours: float = 12.0
    poll_seconds: int = 4
    login_limit_per_user: int = 5
    login_limit_per_ip: int = 20
    login_window_minutes: int = 15
    # Ask channels.whatsapp.window whether the 24-hour window is open (else use the tracker).
    use_channel_window: bool = True

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            rasa_url=(env.get("RASA_URL") or cls.rasa_url).rstrip("/"),
            rasa_token=env.get("RASA_API_TOKEN", ""),
            secret=env.get("CONSOLE_SECRET", ""),
            secure_cookies=env.get("CONSOLE_SECURE_COOKIES", "") in ("1", "true", "yes"),
        )
