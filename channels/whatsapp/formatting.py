"""Fitting bot messages into WhatsApp's limits: text splitting and title shortening."""

from __future__ import annotations

TEXT_LIMIT = 4096
INTERACTIVE_BODY_LIMIT = 1024
BUTTON_TITLE_LIMIT = 20
ROW_TITLE_LIMIT = 24
ROW_DESCRIPTION_LIMIT = 72
MENU_LABEL_LIMIT = 20
MAX_BUTTONS = 3
MAX_LIST_ROWS = 10
ELLIPSIS = "…"


def _cut_point(text: str, limit: int) -> int:
    window = text[: limit + 1]
    for separator in ("\n\n", "\n"):
        index = window.rfind(separator)
        if index >= limit // 2:
            return index
    for index in range(len(window) - 1, 0, -1):
        if window[index].isspace():
            return index
    return limit


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters, on paragraph,
    line or word boundaries when possible."""
    text = text.strip()
    chunks: list[str] = []
    while len(text) > limit:
        cut = _cut_point(text, limit)
        chunk = text[:cut].rstrip()
        if chunk:
            chunks.append(chunk)
        text = text[cut:].lstrip()
    if text:
        chunks.append(text)
    return chunks


def shorten(text: str, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters, cut on a word boundary with '…'."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if text[limit - 1] != " " and " " in head:
        word_cut = head[: head.rfind(" ")]
        if len(word_cut) >= limit // 2:
            head = word_cut
    return head.rstrip(" ,;:.-") + ELLIPSIS


def unique_titles(titles: list[str], limit: int) -> list[str]:
    """Shortened titles, made distinct (Meta refuses repeated button titles)."""
    result: list[str] = []
    for title in titles:
        candidate, number = shorten(title, limit), 2
        while candidate in result:
            suffix = f" ({number})"
            candidate = shorten(title, limit - len(suffix)) + suffix
            number += 1
        result.append(candidate)
    return result
