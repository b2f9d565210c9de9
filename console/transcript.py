"""Turn a Rasa tracker into what a specialist reads, and the 24-hour window check."""

from __future__ import annotations

import inspect
import logging
import time
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from triage.levels import TriageMap

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 24 * 3600

LEVEL_LABELS = {
    "emergency": "Emergencia",
    "risk": "Riesgo",
    "info": "Información",
    "other": "Conversación",
}

MEDIA_LABELS = {
    "audio": "Nota de voz o audio (no se puede reproducir aquí)",
    "voice": "Nota de voz (no se puede reproducir aquí)",
    "image": "Imagen (no se muestra aquí)",
    "video": "Video (no se muestra aquí)",
    "document": "Documento (no se muestra aquí)",
    "sticker": "Sticker",
    "reaction": "Reacción",
    "contacts": "Contacto compartido",
}

SYSTEM_LABELS = {
    "pause": "La conversación pasó a una especialista (el asistente está en silencio).",
    "resume": "La conversación volvió al asistente automático.",
    "session_started": "Nueva sesión.",
}


@dataclass(frozen=True)
class Line:
    kind: str  # user | bot | system
    text: str
    at: str  # ISO time, UTC
    level: str | None = None
    level_label: str | None = None
    by: str | None = None
    location: str | None = None
    map_url: str | None = None
    media: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _iso(timestamp: float | None) -> str:
    if not timestamp:
        return ""
    return datetime.fromtimestamp(float(timestamp), tz=timezone.utc).isoformat(timespec="seconds")


def _location(meta: dict[str, Any]) -> tuple[str | None, str | None]:
    loc = meta.get("location")
    if not isinstance(loc, dict):
        return (str(loc), None) if loc else (None, None)
    parts = [str(loc[k]) for k in ("name", "address") if loc.get(k)]
    lat, lon = loc.get("latitude"), loc.get("longitude")
    map_url = None
    if lat is not None and lon is not None:
        try:
            lat_f, lon_f = float(lat), float(lon)
            parts.append(f"{lat_f:.5f}, {lon_f:.5f}")
            map_url = f"https://www.openstreetmap.org/?mlat={lat_f}&mlon={lon_f}#map=17/{lat_f}/{lon_f}"
        except (TypeError, ValueError):
            pass
    return (" · ".join(parts) or "Ubicación compartida"), map_url


def transcript_lines(tracker: dict[str, Any], rules: TriageMap) -> list[Line]:
    lines: list[Line] = []
    for event in tracker.get("events") or []:
        kind = event.get("event")
        at = _iso(event.get("timestamp"))
        if kind == "user":
            meta = event.get("metadata") or {}
            level = rules.level_of(event.get("parse_data") or {})
            location, map_url = _location(meta)
            media_type = meta.get("media_type")
            media = MEDIA_LABELS.get(str(media_type), f"Archivo ({media_type})") if media_type else None
            lines.append(Line("user", event.get("text") or "", at, level,
                              LEVEL_LABELS.get(level or "", None), None, location, map_url, media))
        elif kind == "bot":
            meta = event.get("metadata") or {}
            if meta.get("agent"):
                by = f"Especialista ({meta['agent']})"
            elif meta.get("source") == "handoff_escalation":
                by = "Aviso automático de emergencia"
            else:
                by = "Asistente"
            text = event.get("text") or ""
            if not text and (event.get("data") or {}).get("buttons"):
                text = "[botones]"
            lines.append(Line("bot", text, at, by=by))
        elif kind in SYSTEM_LABELS:
            lines.append(Line("system", SYSTEM_LABELS[kind], at))
    return lines


def last_user_timestamp(tracker: dict[str, Any]) -> float | None:
    for event in reversed(tracker.get("events") or []):
        if event.get("event") == "user" and event.get("timestamp"):
            return float(event["timestamp"])
    return None


def window_open_from_tracker(tracker: dict[str, Any], now: float | None = None) -> bool | None:
    last = last_user_timestamp(tracker)
    if last is None:
        return None
    return ((now or time.time()) - last) < WINDOW_SECONDS


def channel_window_checker() -> Callable[[str], Any] | None:
    """The channel team's ``is_window_open``, if it can be imported."""
    try:
        from channels.whatsapp.window import is_window_open  # type: ignore[import-not-found]
    except Exception:  # noqa: BLE001 - any import problem means: use the tracker
        return None
    return is_window_open


async def window_open(
    conversation_id: str, tracker: dict[str, Any], checker: Callable[[str], Any] | None
) -> bool | None:
    """Is the 24-hour customer-service window open? None = unknown."""
    if checker is not None:
        try:
            result = checker(conversation_id)
            if inspect.isawaitable(result):
                result = await result
            if result is not None:
                return bool(result)
        except Exception:  # noqa: BLE001
            logger.exception("is_window_open failed; using the tracker instead.")
    return window_open_from_tracker(tracker)


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in text if not unicodedata.combining(c)).strip()


NOT_SAFE_MARKERS = ("no es seguro", "no me escrib", "no escrib", "nunca", "no puedo", "peligro",
                    "no_seguro", "not safe", "unsafe", "inseguro")


def unsafe_to_write(safe_contact: str | None) -> bool:
    """Whether her answer about safe contact says writing to her is not safe (conservative)."""
    if not safe_contact:
        return False
    plain = _plain(safe_contact)
    words = plain.replace(",", " ").replace(".", " ").split()
    return (bool(words) and words[0] in ("no", "nunca", "false")) or any(
        marker in plain for marker in NOT_SAFE_MARKERS
    )


def mask_id(conversation_id: str) -> str:
    """Enough to tell conversations apart, not enough to reveal a phone number."""
    tail = conversation_id[-4:] if len(conversation_id) > 6 else ""
    return f"···{tail}" if tail else "···"
