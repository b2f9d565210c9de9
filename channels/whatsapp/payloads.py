"""Keeping user text out of Rasa's ``/intent`` syntax, and signing our own reply ids.

Rasa reads any text starting with ``/`` as a hard-coded intent (``/restart`` would end
a handoff). Free text is neutralised; only reply ids that this channel sent itself,
tagged with an HMAC of the app secret, are passed to Rasa as payloads.
"""

from __future__ import annotations

import hashlib
import hmac

from components.text import neutralize_intent_syntax

SEPARATOR = "~"
TAG_LENGTH = 16  # hex characters (64 bits)
BUTTON_ID_MAX = 256
LIST_ROW_ID_MAX = 200  # Meta's limit for list row ids


# The project's one intent-syntax filter (components/text.py), under the channel's name.
neutralise = neutralize_intent_syntax


def _tag(payload: str, recipient_id: str, app_secret: str) -> str:
    message = f"{recipient_id}\n{payload}".encode()
    digest = hmac.new(app_secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return digest[:TAG_LENGTH]


def sign_payload(
    payload: str, recipient_id: str, app_secret: str, max_length: int = BUTTON_ID_MAX
) -> str | None:
    """``payload`` plus a tag bound to the recipient, or None if it would not fit."""
    signed = f"{payload}{SEPARATOR}{_tag(payload, recipient_id, app_secret)}"
    return signed if len(signed) <= max_length else None


def verify_payload(reply_id: str | None, sender_id: str, app_secret: str) -> str | None:
    """The payload inside ``reply_id`` if its tag verifies for this sender, else None."""
    if not reply_id or SEPARATOR not in reply_id:
        return None
    payload, _, tag = reply_id.rpartition(SEPARATOR)
    expected = _tag(payload, sender_id, app_secret)
    if len(tag) != TAG_LENGTH or not hmac.compare_digest(expected.encode(), tag.encode("utf-8")):
        return None
    return payload
