"""Log-safe identifiers: never log phone numbers, message ids or text."""

from __future__ import annotations

import hashlib


def hash_id(value: object) -> str:
    """First 12 hex characters of the sha256 of ``value`` (for logs)."""
    return hashlib.sha256(str(value).encode("utf-8")).hexdigest()[:12]


def full_hash(value: object) -> str:
    """The full sha256 hex of ``value`` (for database keys)."""
    return hashlib.sha256(str(value).encode("utf-8")).hexdigest()
