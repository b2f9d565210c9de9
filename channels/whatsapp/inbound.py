"""Parse a signed webhook body into what we do with each item.

Nothing a correctly signed body contains is an error for Meta: every item becomes one of
- an ``InboundMessage``: her words (text, a reply, a location, media) for a Rasa turn;
- an ``InboundEvent``: something that is not her words (a deleted or edited message, a
  security-code change, a new number, a call-permission reply, a flow completion, a reaction,
  the chat being opened) — recorded with its kind, never answered;
- an ``InboundEvent`` of kind ``unusable``: an unknown type, an item carrying Meta's
  ``errors``, a field we do not handle, another number, a malformed item — recorded as
  skipped, with a short machine reason (never text, never a number);
- an ``InboundStatus``: the delivery status of one of our messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from components.text import without_lone_surrogates

MEDIA_TYPES = frozenset({"image", "video", "document", "sticker", "audio", "contacts"})
REPLY_INTERACTIVE_TYPES = frozenset({"button_reply", "list_reply"})
NUMBER_CHANGE_TYPES = frozenset({"customer_changed_number", "user_changed_number"})
IDENTITY_CHANGE_TYPES = frozenset({"customer_identity_changed", "user_identity_changed"})
USER_ID_CHANGE_TYPES = frozenset({"user_changed_user_id"})
_DETAIL = re.compile(r"[^a-z0-9_.:-]")


class InboundKind(str, Enum):
    # her words: a Rasa turn
    TEXT = "text"
    REPLY = "reply"
    LOCATION = "location"
    MEDIA = "media"
    # not her words: recorded, silent
    REACTION = "reaction"
    REVOKE = "revoke"  # she deleted a message; related = the deleted message
    EDIT = "edit"  # she edited a message; related = the original message
    IDENTITY_CHANGE = "identity_change"  # her security code changed (new phone or device?)
    NUMBER_CHANGE = "number_change"  # related = her new number
    USER_ID_CHANGE = "user_id_change"
    CALL_PERMISSION = "call_permission"
    FLOW_COMPLETION = "flow_completion"
    CHAT_OPENED = "chat_opened"
    # signed but unusable: recorded as skipped
    UNUSABLE = "unusable"

    @property
    def is_turn(self) -> bool:
        return self in TURN_KINDS


TURN_KINDS = frozenset({InboundKind.TEXT, InboundKind.REPLY, InboundKind.LOCATION,
                        InboundKind.MEDIA})


@dataclass(frozen=True)
class InboundMessage:
    """A message from her, for Rasa. ``type`` is WhatsApp's own message type."""

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
class InboundEvent:
    """An item that gets no answer. ``related_id`` is raw here and digested before storing."""

    kind: InboundKind
    message_id: str | None = None
    sender: str | None = None
    timestamp: str | None = None
    detail: str | None = None
    related_id: str | None = None


@dataclass(frozen=True)
class InboundStatus:
    message_id: str
    status: str
    timestamp: str | None
    recipient_id: str | None
    error_code: int | None = None
    error_title: str | None = None
    callback: str | None = None  # our biz_opaque_callback_data


@dataclass
class ParsedUpdate:
    messages: list[InboundMessage] = field(default_factory=list)
    events: list[InboundEvent] = field(default_factory=list)
    statuses: list[InboundStatus] = field(default_factory=list)

    @property
    def skipped(self) -> list[InboundEvent]:
        return [e for e in self.events if e.kind is InboundKind.UNUSABLE]


class _BadItem(ValueError):
    """One entry, change, message or status is unusable (recorded as skipped)."""


def detail_code(text: str) -> str:
    """A short machine reason, safe to store: lowercase ascii, no spaces, 64 characters."""
    return _DETAIL.sub("_", str(text).lower())[:64]


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _BadItem(f"malformed:{what}")
    return value


def _str(obj: dict[str, Any], key: str, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise _BadItem(f"malformed:{what}.{key}")
    return without_lone_surrogates(value)


def _opt_str(obj: dict[str, Any], key: str) -> str | None:
    """A non-empty string field; every string we keep passes here or through ``_str``, so
    none carries a lone surrogate (valid JSON, but not storable as UTF-8)."""
    value = obj.get(key)
    return without_lone_surrogates(value) if isinstance(value, str) and value else None


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _BadItem(f"malformed:{what}")
    return value


def _timestamp(obj: dict[str, Any]) -> str | None:
    value = obj.get("timestamp")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        return value
    return None


def _small_int(value: Any) -> bool:
    """An integer that fits a database INTEGER column (Meta's error codes do)."""
    return isinstance(value, int) and not isinstance(value, bool) and -2**31 < value < 2**31


def _error_code(errors: Any) -> str | None:
    """``error:<code>`` of Meta's first error object, if there is one."""
    if isinstance(errors, list) and errors:
        first = errors[0]
        code = first.get("code") if isinstance(first, dict) else None
        return f"error:{code}" if isinstance(code, int) else "error"
    return None


def _coordinate(obj: dict[str, Any], key: str, bound: float) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not -bound <= value <= bound:
        raise _BadItem(f"malformed:location.{key}")
    return float(value)


def _reply(base: dict[str, Any], reply: dict[str, Any], id_key: str,
           title_key: str) -> InboundMessage:
    reply_id, title = _opt_str(reply, id_key), _opt_str(reply, title_key)
    if not reply_id and not title:
        raise _BadItem(f"malformed:reply.{id_key}")
    return InboundMessage(**base, kind="reply", reply_id=reply_id, reply_title=title or "")


def _location(base: dict[str, Any], msg: dict[str, Any]) -> InboundMessage:
    loc = _dict(msg.get("location"), "location")
    location: dict[str, Any] = {
        "latitude": _coordinate(loc, "latitude", 90),
        "longitude": _coordinate(loc, "longitude", 180),
    }
    for key in ("name", "address"):
        value = _opt_str(loc, key)
        if value:
            location[key] = value
    return InboundMessage(**base, kind="location", location=location)


def _media(base: dict[str, Any], msg: dict[str, Any]) -> InboundMessage:
    """Media; a caption is her words and goes to Rasa as text (with the media type)."""
    media = msg.get(base["type"])
    media = media if isinstance(media, dict) else {}
    caption = _opt_str(media, "caption")
    if caption and caption.strip():
        return InboundMessage(**base, kind="media", text=caption)
    return InboundMessage(**base, kind="media", voice=media.get("voice") is True)


def _event(kind: InboundKind, base: dict[str, Any], detail: str | None = None,
           related: str | None = None) -> InboundEvent:
    return InboundEvent(kind=kind, message_id=base.get("message_id"), sender=base.get("sender"),
                        timestamp=base.get("timestamp"),
                        detail=detail_code(detail) if detail else None, related_id=related)


def _interactive(base: dict[str, Any], msg: dict[str, Any]) -> InboundMessage | InboundEvent:
    interactive = _dict(msg.get("interactive"), "interactive")
    sub = interactive.get("type")
    if sub in REPLY_INTERACTIVE_TYPES:
        return _reply(base, _dict(interactive.get(sub), sub), "id", "title")
    if sub == "call_permission_reply":
        return _event(InboundKind.CALL_PERMISSION, base)
    if sub == "nfm_reply":
        return _event(InboundKind.FLOW_COMPLETION, base)
    return _event(InboundKind.UNUSABLE, base, f"interactive:{sub}")


def _system(base: dict[str, Any], msg: dict[str, Any]) -> InboundEvent:
    system = msg.get("system") if isinstance(msg.get("system"), dict) else {}
    sub = system.get("type")
    if sub in NUMBER_CHANGE_TYPES:
        new = _opt_str(system, "wa_id") or _opt_str(system, "new_wa_id")
        return _event(InboundKind.NUMBER_CHANGE, base, sub, new)
    if sub in IDENTITY_CHANGE_TYPES or isinstance(msg.get("identity"), dict):
        return _event(InboundKind.IDENTITY_CHANGE, base, sub or "identity")
    if sub in USER_ID_CHANGE_TYPES:
        return _event(InboundKind.USER_ID_CHANGE, base, sub)
    return _event(InboundKind.UNUSABLE, base, f"system:{sub}")


def _original(msg: dict[str, Any], key: str) -> str | None:
    value = msg.get(key)
    return _opt_str(value, "original_message_id") if isinstance(value, dict) else None


def classify_message(raw: Any, value_errors: Any = None) -> InboundMessage | InboundEvent:
    """What one ``value.messages[]`` item is. Never raises."""
    if not isinstance(raw, dict):
        return InboundEvent(InboundKind.UNUSABLE, detail="malformed:message")
    sender = _opt_str(raw, "from")
    base = {"message_id": _opt_str(raw, "id"), "sender": sender,
            "timestamp": _timestamp(raw), "type": _opt_str(raw, "type") or "unknown"}
    errors = _error_code(raw.get("errors")) or _error_code(value_errors)
    try:
        return _classify(base, raw, errors)
    except _BadItem as exc:
        return _event(InboundKind.UNUSABLE, base, errors or str(exc))


def _classify(base: dict[str, Any], msg: dict[str, Any],
              errors: str | None) -> InboundMessage | InboundEvent:
    kind = base["type"]
    if kind == "system":  # may come without "from" (user id changes)
        return _system(base, msg)
    if base["message_id"] is None or base["sender"] is None:
        raise _BadItem("malformed:message.from_or_id")
    if kind == "revoke":
        return _event(InboundKind.REVOKE, base, related=_original(msg, "revoke"))
    if kind == "edit":
        return _event(InboundKind.EDIT, base, related=_original(msg, "edit"))
    if kind == "reaction":
        return _event(InboundKind.REACTION, base)
    if kind == "request_welcome":
        return _event(InboundKind.CHAT_OPENED, base)
    if errors:  # an item carrying Meta's errors object is not something we can read
        return _event(InboundKind.UNUSABLE, base, errors)
    message_base = {**base, "timestamp": base["timestamp"] or ""}  # "": the arrival time
    if kind == "text":
        body = _dict(msg.get("text"), "text")
        if not isinstance(body.get("body"), str):
            raise _BadItem("malformed:text.body")
        return InboundMessage(**message_base, kind="text",
                              text=without_lone_surrogates(body["body"]))
    if kind == "interactive":
        return _interactive(message_base, msg)
    if kind == "button":
        return _reply(message_base, _dict(msg.get("button"), "button"), "payload", "text")
    if kind == "location":
        return _location(message_base, msg)
    if kind in MEDIA_TYPES:
        return _media(message_base, msg)
    return _event(InboundKind.UNUSABLE, base, f"type:{kind}")


def parse_status(raw: Any) -> InboundStatus:
    status = _dict(raw, "status")
    code: int | None = None
    title: str | None = None
    errors = _list(status.get("errors"), "status.errors")
    if errors and isinstance(errors[0], dict):
        first = errors[0]
        if _small_int(first.get("code")):
            code = first["code"]
        title = _opt_str(first, "title")
    return InboundStatus(
        message_id=_str(status, "id", "status"),
        status=_str(status, "status", "status"),
        timestamp=_timestamp(status),
        recipient_id=_opt_str(status, "recipient_id"),
        error_code=code,
        error_title=title,
        callback=_opt_str(status, "biz_opaque_callback_data"),
    )


def _skip(out: ParsedUpdate, reason: str) -> None:
    out.events.append(InboundEvent(InboundKind.UNUSABLE, detail=detail_code(reason)))


def _parse_change(change: Any, phone_number_id: str, out: ParsedUpdate) -> None:
    change = _dict(change, "change")
    if change.get("field") != "messages":
        _skip(out, f"field:{change.get('field')}")
        return
    value = _dict(change.get("value"), "change.value")
    metadata = _dict(value.get("metadata"), "value.metadata")
    if _str(metadata, "phone_number_id", "metadata") != phone_number_id:
        _skip(out, "other_number")
        return
    for raw in _list(value.get("messages"), "value.messages"):
        item = classify_message(raw, value.get("errors"))
        (out.messages if isinstance(item, InboundMessage) else out.events).append(item)
    for raw in _list(value.get("statuses"), "value.statuses"):
        try:
            out.statuses.append(parse_status(raw))
        except _BadItem as exc:
            _skip(out, str(exc))
    if not value.get("messages") and not value.get("statuses"):
        _skip(out, _error_code(value.get("errors")) or "empty")


def parse_update(data: Any, phone_number_id: str) -> ParsedUpdate:
    """Everything in a decoded, correctly signed webhook body. Never raises."""
    out = ParsedUpdate()
    if not isinstance(data, dict) or data.get("object") != "whatsapp_business_account":
        _skip(out, "not_an_update")
        return out
    entries = data.get("entry")
    if not isinstance(entries, list) or not entries:
        _skip(out, "malformed:entry")
        return out
    for entry in entries:
        try:
            changes = _list(_dict(entry, "entry").get("changes"), "entry.changes")
        except _BadItem as exc:
            _skip(out, str(exc))
            continue
        for change in changes:
            try:
                _parse_change(change, phone_number_id, out)
            except _BadItem as exc:
                _skip(out, str(exc))
    return out
