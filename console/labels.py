"""Short case labels that never collide and never show her number.

The label is the ticket id through a keyed permutation (a 4-round Feistel network with
HMAC-SHA256 rounds), written in Crockford base32: 5 characters for the first 16.7 million
tickets. A permutation cannot map two tickets to one label, and without the key the label
says nothing about the ticket's number or how many cases there were.
"""

from __future__ import annotations

import hashlib
import hmac

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
ROUNDS = 4


def _permute(value: int, bits: int, key: bytes) -> int:
    half = bits // 2
    mask = (1 << half) - 1
    left, right = value >> half, value & mask
    for round_ in range(ROUNDS):
        digest = hmac.new(key, bytes([round_, bits]) + right.to_bytes(8, "big"),
                          hashlib.sha256).digest()
        left, right = right, left ^ (int.from_bytes(digest[:8], "big") & mask)
    return (left << half) | right


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def case_label(ticket_id: int, key: bytes) -> str:
    """«K3F9Q» for a ticket id (unique per id for a given key)."""
    if ticket_id < 0:
        raise ValueError("ticket ids are positive")
    for bits, length in ((24, 5), (40, 8), (64, 13)):
        if ticket_id < 1 << bits:
            return _encode(_permute(ticket_id, bits, key), length)
    raise ValueError("ticket id too large")
