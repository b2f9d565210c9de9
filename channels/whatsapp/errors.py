"""Graph API error codes: whether a retry can help, what they mean (English for logs, Spanish
for the console, read from ``errores_meta.yml``)."""

from __future__ import annotations

from enum import Enum
from functools import lru_cache
from pathlib import Path

import yaml

SPANISH_FILE = Path(__file__).with_name("errores_meta.yml")

# Errors Meta asks us to retry later (rate limits, "something went wrong", unavailable).
TRANSIENT_CODES = frozenset({1, 2, 4, 80007, 130429, 131000, 131016, 131056})
PAIR_RATE_CODE = 131056
THROUGHPUT_CODE = 130429
WINDOW_CLOSED_CODE = 131047

MEANINGS = {
    100: "invalid parameter (a bug in the message we built)",
    190: "access token expired or invalid",
    130429: "throughput limit of the phone number reached",
    131047: "more than 24 hours since the user's last message; a template is needed",
    131026: "message undeliverable",
    131056: "too many messages to the same user in a short time",
    131051: "unsupported message type",
}


class FailureReason(str, Enum):
    """Why the channel gave up on a message without a final code from Meta."""

    NO_ANSWER = "sin_respuesta"  # transient failures until the message was too old
    NO_TEMPLATE = "sin_plantilla"  # window closed and WHATSAPP_TEMPLATE_NAME unset
    TEMPLATE_ALREADY_SENT = "plantilla_ya_enviada"
    UNREADABLE = "mensaje_danado"  # the sealed row could not be decrypted


def meaning(code: int | None) -> str:
    """English meaning, for logs."""
    return MEANINGS.get(code or 0, "unknown error")


def is_transient(http_status: int | None, code: int | None) -> bool:
    """True when trying again later can succeed (no answer, HTTP 429/5xx, rate limits)."""
    if code in TRANSIENT_CODES:
        return True
    return http_status is None or http_status == 429 or http_status >= 500


@lru_cache(maxsize=1)
def _spanish() -> dict:
    return yaml.safe_load(SPANISH_FILE.read_text(encoding="utf-8")) or {}


def spanish_meaning(code: int | None, reason: str | None = None) -> str:
    """What a specialist reads when a message did not leave: by our reason, else Meta's code."""
    texts = _spanish()
    if reason and reason in (texts.get("motivos") or {}):
        return texts["motivos"][reason]
    codes = texts.get("codigos") or {}
    if code is not None and code in codes:
        return codes[code]
    return texts.get("desconocido") or "No se envió."
