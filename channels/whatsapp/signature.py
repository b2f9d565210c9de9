"""``X-Hub-Signature-256``: HMAC-SHA256 of the raw request body with the app secret."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Hub-Signature-256"
PREFIX = "sha256="


def sign_body(body: bytes, app_secret: str) -> str:
    """The header value Meta would send for ``body``."""
    digest = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return PREFIX + digest


def verify_signature(body: bytes, header_value: str | None, app_secret: str) -> bool:
    """True only if ``header_value`` is the signature of exactly these bytes."""
    if not header_value or not header_value.startswith(PREFIX):
        return False
    expected = sign_body(body, app_secret)
    return hmac.compare_digest(expected.encode("ascii"), header_value.strip().encode("utf-8"))
