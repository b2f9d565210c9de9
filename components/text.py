"""Text normalisation shared by the NLU components, the triage command and the channel."""

from __future__ import annotations

import re
import unicodedata

_REPEATS = re.compile(r"([a-z])\1{2,}")
_SPACES = re.compile(r"\s+")
_SURROGATES = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def without_lone_surrogates(text: str) -> str:
    """``text`` with every lone UTF-16 surrogate (valid JSON, ``"\\ud83d"``, but not
    encodable as UTF-8: spaCy, the database and the logs all raise on it) replaced by U+FFFD;
    a surrogate pair left as two characters becomes the character it encodes."""
    if not _SURROGATES.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def strip_accents(text: str) -> str:
    """'dónde está ñuñoa' -> 'donde esta nunoa'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize(text: str) -> str:
    """Lowercase, no accents, letters repeated 3+ times collapsed, spaces folded.

    'AYUDAAAA  pleasee' -> 'ayuda pleasee'. Emojis and punctuation are kept: they carry meaning
    and the character n-grams learn from them.
    """
    text = strip_accents(text.lower())
    text = _REPEATS.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip()


def neutralize_intent_syntax(text: str | None) -> str:
    """Free text must never reach Rasa as '/intent' syntax (``/restart`` would end a handoff).

    The one filter for every entry point (WhatsApp channel, triage command, tests): strips
    leading whitespace and slashes until neither is left, so ``" / /restart"`` becomes
    ``"restart"``; lone surrogates become U+FFFD (the NLU would raise on them, and she would
    get no answer).
    """
    text = without_lone_surrogates(text or "")
    while True:
        text = text.lstrip()
        if not text.startswith("/"):
            return text
        text = text[1:]
