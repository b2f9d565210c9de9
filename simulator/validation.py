"""Checks an outgoing message the way the Graph API does (the limits we rely on)."""

from __future__ import annotations

import re
from typing import Any

MEDIA_TYPES = {"image", "audio", "video", "document", "sticker"}
MESSAGE_TYPES = MEDIA_TYPES | {"text", "interactive", "template", "location", "reaction",
                               "contacts"}
RECIPIENT = re.compile(r"^\+?\d{5,20}$")


class GraphError(Exception):
    """A Graph-shaped error answer."""

    def __init__(self, details: str, code: int = 100, http_status: int = 400,
                 message: str = "(#100) Invalid parameter") -> None:
        super().__init__(details)
        self.details = details
        self.code = code
        self.http_status = http_status
        self.message = message

    def body(self, trace_id: str) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": "OAuthException", "code": self.code,
                          "error_data": {"messaging_product": "whatsapp",
                                         "details": self.details},
                          "fbtrace_id": trace_id}}


def _require(condition: bool, details: str) -> None:
    if not condition:
        raise GraphError(details)


def _text(value: Any, name: str, maximum: int, minimum: int = 1) -> str:
    _require(isinstance(value, str), f"{name} is required and must be a string")
    _require(minimum <= len(value) <= maximum,
             f"{name} must be between {minimum} and {maximum} characters")
    return value


def _unique(values: list[str], name: str) -> None:
    _require(len(values) == len(set(values)), f"{name} must be unique")


def _buttons(action: dict[str, Any]) -> None:
    buttons = action.get("buttons")
    _require(isinstance(buttons, list) and 1 <= len(buttons) <= 3,
             "action.buttons must have between 1 and 3 buttons")
    ids, titles = [], []
    for button in buttons:
        _require(isinstance(button, dict) and button.get("type") == "reply",
                 "button type must be reply")
        reply = button.get("reply")
        _require(isinstance(reply, dict), "button reply is required")
        ids.append(_text(reply.get("id"), "button id", 256))
        titles.append(_text(reply.get("title"), "button title", 20))
    _unique(ids, "button ids")
    _unique(titles, "button titles")


def _list(action: dict[str, Any]) -> None:
    _text(action.get("button"), "action.button", 20)
    sections = action.get("sections")
    _require(isinstance(sections, list) and 1 <= len(sections) <= 10,
             "action.sections must have between 1 and 10 sections")
    ids = []
    for section in sections:
        _require(isinstance(section, dict), "section must be an object")
        if len(sections) > 1 or "title" in section:
            _text(section.get("title"), "section title", 24)
        rows = section.get("rows")
        _require(isinstance(rows, list) and rows, "section rows are required")
        for row in rows:
            _require(isinstance(row, dict), "row must be an object")
            ids.append(_text(row.get("id"), "row id", 200))
            _text(row.get("title"), "row title", 24)
            if "description" in row:
                _text(row["description"], "row description", 72)
    _require(len(ids) <= 10, "a list has at most 10 rows in all")
    _unique(ids, "row ids")


def _interactive(value: Any) -> None:
    _require(isinstance(value, dict), "interactive is required")
    body = value.get("body")
    _require(isinstance(body, dict), "interactive.body is required")
    _text(body.get("text"), "body.text", 1024)
    if "footer" in value:
        _require(isinstance(value["footer"], dict), "footer must be an object")
        _text(value["footer"].get("text"), "footer.text", 60)
    action = value.get("action")
    _require(isinstance(action, dict), "interactive.action is required")
    kind = value.get("type")
    if kind == "button":
        _buttons(action)
    elif kind == "list":
        _list(action)
    else:
        raise GraphError("interactive.type must be button or list in this simulator")


def validate_read(body: dict[str, Any]) -> None:
    _text(body.get("message_id"), "message_id", 512)


def validate_message(body: Any) -> None:
    """Raise ``GraphError`` (code 100) for a message Meta would refuse."""
    _require(isinstance(body, dict), "the request body must be a JSON object")
    _require(body.get("messaging_product") == "whatsapp", "messaging_product must be whatsapp")
    if body.get("status") == "read":
        validate_read(body)
        return
    _require(isinstance(body.get("to"), str) and bool(RECIPIENT.match(body["to"])),
             "to must be a phone number")
    _require(body.get("recipient_type", "individual") == "individual",
             "recipient_type must be individual")
    if "biz_opaque_callback_data" in body:
        _text(body["biz_opaque_callback_data"], "biz_opaque_callback_data", 512)
    kind = body.get("type", "text")
    _require(kind in MESSAGE_TYPES, f"unsupported message type {kind!r}")
    value = body.get(kind)
    if kind == "text":
        _require(isinstance(value, dict), "text is required")
        _text(value.get("body"), "text.body", 4096)
    elif kind == "interactive":
        _interactive(value)
    elif kind in MEDIA_TYPES:
        _require(isinstance(value, dict) and (isinstance(value.get("link"), str)
                                              or isinstance(value.get("id"), str)),
                 f"{kind} needs a link or an id")
        if "caption" in value:
            _text(value["caption"], "caption", 1024)
    elif kind == "template":
        _require(isinstance(value, dict), "template is required")
        _text(value.get("name"), "template.name", 512)
        language = value.get("language")
        _require(isinstance(language, dict), "template.language is required")
        _text(language.get("code"), "template.language.code", 15)
        _require(isinstance(value.get("components", []), list), "components must be a list")
    elif kind == "location":
        _require(isinstance(value, dict) and all(
            isinstance(value.get(k), int | float) for k in ("latitude", "longitude")),
            "location needs latitude and longitude")
    elif kind == "reaction":
        _require(isinstance(value, dict), "reaction is required")
        _text(value.get("message_id"), "reaction.message_id", 512)
    elif kind == "contacts":
        _require(isinstance(value, list) and value, "contacts must be a non-empty list")
