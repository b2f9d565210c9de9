"""Graph API error codes: what they mean and whether a retry can help."""

from __future__ import annotations

RETRYABLE_CODES = frozenset({130429, 131056})

MEANINGS = {
    100: "invalid parameter (a bug in the message we built)",
    190: "access token expired or invalid",
    130429: "throughput limit of the phone number reached",
    131047: "more than 24 hours since the user's last message; a template is needed",
    131026: "message undeliverable",
    131056: "too many messages to the same user in a short time",
    131051: "unsupported message type",
}


def meaning(code: int | None) -> str:
    return MEANINGS.get(code or 0, "unknown error")
