"""Encryption at rest and keyed lookup ids: the one home for both.

Everything that holds her words or her number is stored as a Fernet token (AES-128-CBC with
HMAC-SHA256, from ``cryptography``) made with the newest key of the ring; older keys still
decrypt, so keys rotate without downtime (``MultiFernet``). Identifiers used for lookups
(her conversation id, WhatsApp message ids) are stored as keyed HMAC-SHA256 digests: a plain
hash of a phone number is reversed by trying every number.

Configuration:

- ``HELPLINE_DATA_KEY``: one key as ``Fernet.generate_key()`` prints it (URL-safe base64 of 32
  bytes), or several separated by commas, newest first. The digest key is derived from the
  LAST key of the ring, so rotating (adding a key in front) keeps every lookup id valid.
- Unset (sandbox runs only): a key is generated once into ``var/helpline_data.key`` (mode
  0600; ``HELPLINE_DATA_KEY_FILE`` to change the path).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_KEY_FILE = PROJECT_ROOT / "var" / "helpline_data.key"
_DIGEST_INFO = b"helpline lookup digest v1"

__all__ = ["InvalidToken", "KeyRing", "KeyConfigError", "data_keyring", "parse_keys"]


class KeyConfigError(ValueError):
    """HELPLINE_DATA_KEY is malformed (the message says how, in Spanish, without the key)."""


def parse_keys(raw: str) -> list[bytes]:
    """Comma-separated Fernet keys, newest first; each must decode to 32 bytes."""
    keys = [part.strip().encode("ascii") for part in raw.split(",") if part.strip()]
    if not keys:
        raise KeyConfigError("HELPLINE_DATA_KEY está vacía")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise KeyConfigError(
                f"la clave {position} de HELPLINE_DATA_KEY no es válida: debe ser base64 "
                "URL-safe de 32 bytes, como la imprime Fernet.generate_key()"
            ) from None
    return keys


@dataclass(frozen=True)
class KeyRing:
    """Encrypt with the newest key, decrypt with any; digest with a key derived from the oldest."""

    keys: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyConfigError("no hay claves")
        object.__setattr__(self, "_fernet", MultiFernet([Fernet(k) for k in self.keys]))
        digest_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                          info=_DIGEST_INFO).derive(self.keys[-1])
        object.__setattr__(self, "_digest_key", digest_key)

    # --- encryption -----------------------------------------------------------------------
    def encrypt(self, data: bytes) -> str:
        """A token (ASCII text) for ``data``."""
        return self._fernet.encrypt(data).decode("ascii")

    def decrypt(self, token: str | bytes) -> bytes:
        """The data inside ``token``; raises ``InvalidToken`` if no key of the ring made it."""
        raw = token.encode("ascii") if isinstance(token, str) else token
        return self._fernet.decrypt(raw)

    def encrypt_text(self, text: str | None) -> str | None:
        return None if text is None else self.encrypt(text.encode("utf-8"))

    def decrypt_text(self, token: str | bytes | None) -> str | None:
        return None if token is None else self.decrypt(token).decode("utf-8")

    def encrypt_json(self, value: Any) -> str | None:
        if value is None:
            return None
        return self.encrypt(json.dumps(value, ensure_ascii=False, separators=(",", ":"))
                            .encode("utf-8"))

    def decrypt_json(self, token: str | bytes | None) -> Any:
        return None if token is None else json.loads(self.decrypt(token))

    def rotate(self, token: str | bytes) -> str:
        """The same data under the newest key (for re-encrypting old rows)."""
        raw = token.encode("ascii") if isinstance(token, str) else token
        return self._fernet.rotate(raw).decode("ascii")

    # --- lookups --------------------------------------------------------------------------
    def digest(self, value: str) -> str:
        """Keyed HMAC-SHA256 (64 hex) of an identifier, stable across key rotations."""
        return hmac.new(self._digest_key, value.encode("utf-8"), hashlib.sha256).hexdigest()


_lock = threading.Lock()
_cache: dict[tuple[str, str], KeyRing] = {}


def key_file() -> Path:
    return Path(os.environ.get("HELPLINE_DATA_KEY_FILE") or DEFAULT_KEY_FILE)


def _key_from_file(path: Path) -> str:
    """Read the sandbox key, creating it (0600, in a 0700 folder) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # write to a private temporary file, then link it in place: two processes starting
        # at once both end up reading the one key that won (never a half-written file)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(Fernet.generate_key())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process created it first: use theirs
        finally:
            temporary.unlink()
    return path.read_text(encoding="ascii").strip()


def data_keyring() -> KeyRing:
    """The process-wide key ring from ``HELPLINE_DATA_KEY`` (or the sandbox key file)."""
    raw = os.environ.get("HELPLINE_DATA_KEY", "").strip()
    source = ("env", raw) if raw else ("file", str(key_file()))
    with _lock:
        ring = _cache.get(source)
        if ring is None:
            text = raw if raw else _key_from_file(key_file())
            ring = KeyRing(tuple(parse_keys(text)))
            _cache[source] = ring
        return ring
