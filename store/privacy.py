"""Log-safe identifiers. Phone numbers are a small space: a plain hash of one can be reversed
by trying every number, so logs carry a *keyed* hash (HMAC-SHA256, first 12 hex).

``LOG_HASH_KEY`` sets the key; processes that share it (``make run`` gives all of them one
per run) log the same id for the same conversation. Unset: a random key for this process.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import lru_cache


@lru_cache(maxsize=1)
def _key() -> bytes:
    configured = os.environ.get("LOG_HASH_KEY")
    return configured.encode("utf-8") if configured else secrets.token_bytes(32)


def log_id(value: object) -> str:
    """A short id for logs that cannot be turned back into the phone number without the key."""
    return hmac.new(_key(), str(value).encode("utf-8"), hashlib.sha256).hexdigest()[:12]
