"""What a specialist reads of a Rasa tracker: the case's events, as lines.

The console asks Rasa for ALL events (``include_events=ALL``): after «salir» the tracker holds
a ``restart`` and by default Rasa returns only what came after it, which hid everything she
wrote before leaving. ``case_events`` keeps the events from the session in which the ticket was
opened onwards, across any restart. Where she tapped a button, the line shows the button's
title («Sí, puedo»), not the payload Rasa stores («/afirmar»).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from console.texts import Texts
from triage.levels import TriageMap

logger = logging.getLogger(__name__)

MAX_LINES = 400
TITLE_KEYS = ("title", "button_title", "reply_title")
# payloads the channel uses for non-text messages: the line shows the media or place instead
SILENT_PAYLOADS = ("/compartir_ubicacion", "/medio_no_soportado")
SYSTEM_EVENTS = ("pause", "resume", "session_started", "restart")


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
    tapped: bool = False  # she tapped a button: ``text`` is its title
    options: tuple[str, ...] = ()  # the buttons a bot message offered

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def iso(timestamp: float | None) -> str:
    if not timestamp:
        return ""
    return datetime.fromtimestamp(float(timestamp), tz=timezone.utc).isoformat(timespec="seconds")


def epoch(naive_utc: datetime) -> float:
    return naive_utc.replace(tzinfo=timezone.utc).timestamp()


def case_events(events: list[dict[str, Any]], opened_at: datetime | None) -> list[dict[str, Any]]:
    """Events from the session in which the case was opened to now, across restarts."""
    if opened_at is None:
        return list(events)
    opened = epoch(opened_at)
    start = 0
    for index, event in enumerate(events):
        if event.get("event") == "session_started" and float(event.get("timestamp") or 0) <= opened:
            start = index
    return events[start:]


def intent_of(event: dict[str, Any]) -> str | None:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def _buttons(event: dict[str, Any]) -> list[dict[str, Any]]:
    buttons = (event.get("data") or {}).get("buttons") or []
    return [b for b in buttons if isinstance(b, dict) and b.get("title")]


def _payload_intent(payload: str) -> str:
    return payload.lstrip("/").split("{", 1)[0].split("@", 1)[0].strip()


def tapped_title(text: str, metadata: dict[str, Any], offered: list[dict[str, Any]]) -> str | None:
    """The title of the button she tapped, if ``text`` is a payload («/afirmar»)."""
    if not text.startswith("/"):
        return None
    for key in TITLE_KEYS:
        if metadata.get(key):
            return str(metadata[key])
    for button in offered:
        if str(button.get("payload") or "") == text:
            return str(button["title"])
    for button in offered:
        if _payload_intent(str(button.get("payload") or "")) == _payload_intent(text):
            return str(button["title"])
    return None


def shown_text(event: dict[str, Any], offered: list[dict[str, Any]]) -> tuple[str, bool]:
    """What she wrote as a person reads it, and whether it was a button she tapped."""
    text = str(event.get("text") or "")
    title = tapped_title(text, event.get("metadata") or {}, offered)
    if title is not None:
        return title, True
    if text.startswith(SILENT_PAYLOADS):
        return "", False
    if text.startswith("/"):
        return _payload_intent(text).replace("_", " "), True
    return text, False


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
            map_url = (f"https://www.openstreetmap.org/?mlat={lat_f}&mlon={lon_f}"
                       f"#map=17/{lat_f}/{lon_f}")
        except (TypeError, ValueError):
            pass
    return (" · ".join(parts) or "Ubicación compartida"), map_url


def _user_line(event: dict[str, Any], offered: list[dict[str, Any]], rules: TriageMap,
               texts: Texts) -> Line:
    meta = event.get("metadata") or {}
    level = rules.level_of(event.get("parse_data") or {})
    location, map_url = _location(meta)
    media_type = meta.get("media_type")
    media = None
    if media_type:
        media = texts.get("medios", media_type, f"{texts.get('medios', 'otro')} ({media_type})")
    text, tapped = shown_text(event, offered)
    if meta.get("revoked"):  # she deleted it in WhatsApp (store/revocation.py)
        text, tapped = texts.get("sistema", "revoked"), False
    return Line("user", text, iso(event.get("timestamp")), level,
                texts.get("niveles", level) if level else None, None, location, map_url,
                media, tapped)


def _bot_line(event: dict[str, Any], texts: Texts) -> Line:
    meta = event.get("metadata") or {}
    if meta.get("agent"):
        by = f"Especialista ({meta['agent']})"
    elif meta.get("source") == "handoff_escalation":
        by = "Aviso automático de emergencia"
    else:
        by = "Asistente"
    text = str(event.get("text") or "")
    custom = (event.get("data") or {}).get("custom") or {}
    if not text and isinstance(custom, dict) and (custom.get("whatsapp") or {}).get("type") == "template":
        text = f"[{texts.get('sistema', 'template')}]"
    options = tuple(str(b["title"]) for b in _buttons(event))
    if not text and options:
        text = texts.get("sistema", "buttons")
    return Line("bot", text, iso(event.get("timestamp")), by=by, options=options)


def transcript_lines(events: list[dict[str, Any]], rules: TriageMap, texts: Texts) -> list[Line]:
    lines: list[Line] = []
    offered: list[dict[str, Any]] = []
    for event in events:
        kind = event.get("event")
        if kind == "user":
            lines.append(_user_line(event, offered, rules, texts))
            offered = []
        elif kind == "bot":
            lines.append(_bot_line(event, texts))
            offered = _buttons(event) or offered
        elif kind in SYSTEM_EVENTS:
            lines.append(Line("system", texts.get("sistema", kind), iso(event.get("timestamp"))))
    return lines[-MAX_LINES:]


def last_user_timestamp(events: list[dict[str, Any]]) -> float | None:
    for event in reversed(events):
        if event.get("event") == "user" and event.get("timestamp"):
            return float(event["timestamp"])
    return None


def slot_values(events: list[dict[str, Any]], name: str) -> list[Any]:
    """Every non-empty value the slot took in these events, in order."""
    return [e["value"] for e in events
            if e.get("event") == "slot" and e.get("name") == name and e.get("value")]


def region_in(events: list[dict[str, Any]], region_of_comuna: Any = None) -> str | None:
    """Her region, only from a location she gave: the ``region`` slot, else the region of the
    ``comuna`` slot (both are filled only from her answers about where she is)."""
    regions = slot_values(events, "region")
    if regions:
        return str(regions[-1])
    comunas = slot_values(events, "comuna")
    if comunas and region_of_comuna is not None:
        return region_of_comuna(str(comunas[-1]))
    return None
