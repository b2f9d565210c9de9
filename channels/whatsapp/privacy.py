"""Log-safe identifiers: never log phone numbers, message ids or text."""

from __future__ import annotations

import hashlib

from store.privacy import log_id as hash_id  # keyed hash for logs

__all__ = ["full_hash", "hash_id"]


def full_hash(value: object) -> str:
    """The full sha256 hex of ``value`` (for database keys)."""
    return hashlib.sha256(str(value).encode("utf-8")).hexdigest()
