"""Column types that seal their values at rest with the data key ring (``store/crypto.py``).

``EncryptedText`` and ``EncryptedJSON`` encrypt on the way into the database and decrypt on the
way out, so the code above them keeps working with plain values. Ciphertext is different every
time (Fernet), so never compare these columns in SQL: look rows up by a keyed digest column
instead (``KeyRing.digest``). A value sealed with a key that left the ring raises
``InvalidToken`` when read, rather than passing as empty.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.types import Text, TypeDecorator

from store.crypto import data_keyring

__all__ = ["EncryptedJSON", "EncryptedText", "looks_sealed", "SEALED_PREFIX"]

# Every Fernet token starts with the version byte 0x80 and a 64-bit timestamp that starts with
# zero bytes for centuries yet: «gAAAAA» in URL-safe base64.
SEALED_PREFIX = "gAAAAA"
_TOKEN = re.compile(r"^gAAAAA[A-Za-z0-9_\-]{90,}={0,2}$")


def looks_sealed(value: str | None) -> bool:
    """True if ``value`` has the shape of a Fernet token (upgrade: plaintext or not yet?)."""
    return bool(value) and bool(_TOKEN.match(value))


class EncryptedText(TypeDecorator):
    """A string stored as a Fernet token (TEXT in the database)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else data_keyring().encrypt_text(str(value))

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else data_keyring().decrypt_text(value)


class EncryptedJSON(TypeDecorator):
    """A JSON value stored as a Fernet token of its JSON text (TEXT in the database)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return data_keyring().encrypt_json(value)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else data_keyring().decrypt_json(value)
