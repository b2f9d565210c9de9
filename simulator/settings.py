"""Simulator settings: the same sandbox ids and secrets the channel uses by default."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from channels.whatsapp.config import (
    SANDBOX_ACCESS_TOKEN,
    SANDBOX_APP_SECRET,
    SANDBOX_PHONE_NUMBER_ID,
)

DEFAULT_PORT = 8090
DEFAULT_WEBHOOK_URL = "http://127.0.0.1:5005/webhooks/whatsapp/webhook"
API_VERSION = "v21.0"


@dataclass(frozen=True)
class SimulatorSettings:
    webhook_url: str = DEFAULT_WEBHOOK_URL
    access_token: str = SANDBOX_ACCESS_TOKEN
    phone_number_id: str = SANDBOX_PHONE_NUMBER_ID
    app_secret: str = SANDBOX_APP_SECRET
    display_phone_number: str = "56900000000"
    send_statuses: bool = False  # send sent/delivered status webhooks like Meta
    webhook_timeout: float = 10.0
    # like Meta, deliver a webhook again (with backoff) until it gets a 200, for this long
    retry_webhooks_for: float = 600.0
    retry_max_delay: float = 8.0

    @classmethod
    def from_env(cls, **overrides: object) -> SimulatorSettings:
        """Sandbox defaults, overridden by the WHATSAPP_* variables the channel reads."""
        env = {
            "access_token": os.environ.get("WHATSAPP_ACCESS_TOKEN"),
            "phone_number_id": os.environ.get("WHATSAPP_PHONE_NUMBER_ID"),
            "app_secret": os.environ.get("WHATSAPP_APP_SECRET"),
        }
        settings = replace(cls(), **{k: v for k, v in env.items() if v})
        return replace(settings, **overrides)
