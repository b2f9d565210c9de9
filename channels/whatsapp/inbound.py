"""Parse webhook updates into our own dataclasses.

Only the top-level envelope is strict (its failure is a 400). Inside it, every bad
entry, change, message or status is skipped with a reason and the rest is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MEDIA_TYPES = frozenset({"image", "video", "document", "sticker", "audio"})
REPLY_INTERACTIVE_TYPES = frozenset({"button_reply", "list_reply"})


class MalformedUpdate(ValueError):
    """The body is not a WhatsApp update at all (answer 400)."""


class _BadItem(ValueError):
    """One entry, change, message or status is unusable (skip it)."""


@dataclass(frozen=True)
class InboundMessage:
    """A message from a user.

    ``kind`` is our classification: text, reply, location, media, reaction or
    unsupported; ``type`` is WhatsApp's own message type.
    """

    message_id: str
    sender: str
    timestamp: str
    type: str
    kind: str
    text: str | None = None
    reply_id: str | None = None
    reply_title: str | None = None
    location: dict[str, Any] | None = None
    voice: bool = False


@dataclass(frozen=True)
class InboundStatus:
    message_id: str
    status: str
    timestamp: str | None
    recipient_id: str | None
    error_code: int | None = None
    error_title: str | None = None


@dataclass
class ParsedUpdate:
    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[InboundStatus] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    ignored: int = 0  # changes for another number or another field

    @property
    def has_content(self) -> bool:
        return bool(self.messages or self.statuses or self.ignored)


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _BadItem(f"{what} is not an object")
    return value


def _str(obj: dict[str, Any], key: str, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise _BadItem(f"{what}.{key} missing")
    return value


def _opt_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _BadItem(f"{what} is not a list")
    return value


def _timestamp(obj: dict[str, Any], what: str, required: bool = True) -> str | None:
    value = obj.get("timestamp")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value.isdigit() and len(value) <= 12:
        return value
    if required:
        raise _BadItem(f"{what}.timestamp missing or not epoch seconds")
    return None


def _coordinate(obj: dict[str, Any], key: str, bound: float) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not -bound <= value <= bound:
        raise _BadItem(f"location.{key} is not a valid coordinate")
    return float(value)


def _reply(base: dict[str, Any], reply: dict[str, Any], id_key: str,
           title_key: str) -> InboundMessage:
    reply_id, title = _opt_str(reply, id_key), _opt_str(reply, title_key)
    if not reply_id and not title:
        raise _BadItem(f"reply has neither {id_key} nor {title_key}")
    return InboundMessage(**base, kind="reply", reply_id=reply_id, reply_title=title or "")


def parse_message(raw: Any) -> InboundMessage:
    msg = _dict(raw, "message")
    base = {
        "message_id": _str(msg, "id", "message"),
        "sender": _str(msg, "from", "message"),
        "timestamp": _timestamp(msg, "message"),
        "type": _str(msg, "type", "message"),
    }
    kind = base["type"]
    if kind == "text":
        body = _dict(msg.get("text"), "text")
        if not isinstance(body.get("body"), str):
            raise _BadItem("text.body missing")
        return InboundMessage(**base, kind="text", text=body["body"])
    if kind == "interactive":
        interactive = _dict(msg.get("interactive"), "interactive")
        sub = interactive.get("type")
        if sub not in REPLY_INTERACTIVE_TYPES:
            return InboundMessage(**base, kind="unsupported")
        return _reply(base, _dict(interactive.get(sub), sub), "id", "title")
    if kind == "button":
        return _reply(base, _dict(msg.get("button"), "button"), "payload", "text")
    if kind == "location":
        loc = _dict(msg.get("location"), "location")
        location: dict[str, Any] = {
            "latitude": _coordinate(loc, "latitude", 90),
            "longitude": _coordinate(loc, "longitude", 180),
        }
        for key in ("name", "address"):
            if _opt_str(loc, key):
                location[key] = loc[key]
        return InboundMessage(**base, kind="location", location=location)
    if kind in MEDIA_TYPES:
        media = msg.get(kind)
        voice = isinstance(media, dict) and media.get("voice") is True
        return InboundMessage(**base, kind="media", voice=voice)
    if kind == "reaction":
        return InboundMessage(**base, kind="reaction")
    return InboundMessage(**base, kind="unsupported")


def parse_status(raw: Any) -> InboundStatus:
    status = _dict(raw, "status")
    code: int | None = None
    title: str | None = None
    errors = _list(status.get("errors"), "status.errors")
    if errors and isinstance(errors[0], dict):
        first = errors[0]
        if isinstance(first.get("code"), int) and not isinstance(first.get("code"), bool):
            code = first["code"]
        title = _opt_str(first, "title")
    return InboundStatus(
        message_id=_str(status, "id", "status"),
        status=_str(status, "status", "status"),
        timestamp=_timestamp(status, "status", required=False),
        recipient_id=_opt_str(status, "recipient_id"),
        error_code=code,
        error_title=title,
    )


def _parse_change(change: Any, phone_number_id: str, out: ParsedUpdate) -> None:
    change = _dict(change, "change")
    if change.get("field") != "messages":
        out.ignored += 1
        return
    value = _dict(change.get("value"), "change.value")
    metadata = _dict(value.get("metadata"), "value.metadata")
    if _str(metadata, "phone_number_id", "metadata") != phone_number_id:
        out.ignored += 1
        return
    for raw in _list(value.get("messages"), "value.messages"):
        try:
            out.messages.append(parse_message(raw))
        except _BadItem as exc:
            out.skipped.append(str(exc))
    for raw in _list(value.get("statuses"), "value.statuses"):
        try:
            out.statuses.append(parse_status(raw))
        except _BadItem as exc:
            out.skipped.append(str(exc))


def parse_update(data: Any, phone_number_id: str) -> ParsedUpdate:
    """Everything usable in a decoded webhook body addressed to ``phone_number_id``."""
    if not isinstance(data, dict):
        raise MalformedUpdate("body is not a JSON object")
    if data.get("object") != "whatsapp_business_account":
        raise MalformedUpdate("object is not whatsapp_business_account")
    entries = data.get("entry")
    if not isinstance(entries, list) or not entries:
        raise MalformedUpdate("entry is missing or not a non-empty list")
    out = ParsedUpdate()
    for entry in entries:
        try:
            changes = _list(_dict(entry, "entry").get("changes"), "entry.changes")
        except _BadItem as exc:
            out.skipped.append(str(exc))
            continue
        for change in changes:
            try:
                _parse_change(change, phone_number_id, out)
            except _BadItem as exc:
                out.skipped.append(str(exc))
    if out.skipped and not out.has_content:
        raise MalformedUpdate("no usable message: " + out.skipped[0])
    return out
