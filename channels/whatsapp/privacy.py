"""Log-safe identifiers: never log phone numbers, message ids or text."""

from __future__ import annotations

from store.privacy import log_id as hash_id  # keyed hash for logs

__all__ = ["hash_id"]
