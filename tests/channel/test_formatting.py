"""Text splitting at 4096 characters and title shortening."""

from __future__ import annotations

import pytest

from channels.whatsapp.formatting import TEXT_LIMIT, shorten, split_text, unique_titles


def test_short_text_is_one_chunk() -> None:
    assert split_text("  hola  ") == ["hola"]
    assert split_text("") == []
    assert split_text("x" * TEXT_LIMIT) == ["x" * TEXT_LIMIT]


def test_long_text_splits_on_words_without_losing_any() -> None:
    words = [f"palabra{i}" for i in range(1500)]
    text = " ".join(words)
    chunks = split_text(text)
    assert len(chunks) > 1
    assert all(len(c) <= TEXT_LIMIT for c in chunks)
    assert " ".join(chunks).split() == words


def test_prefers_paragraph_breaks() -> None:
    first = "a " * 1500
    text = first.strip() + "\n\n" + "b " * 1500
    chunks = split_text(text)
    assert chunks[0] == first.strip()
    assert chunks[1].startswith("b")


def test_prefers_line_breaks_over_spaces() -> None:
    text = ("línea " * 400).strip() + "\n" + ("otra " * 600).strip()
    chunks = split_text(text)
    assert chunks[0].endswith("línea") and chunks[1].startswith("otra")


def test_unbroken_text_is_cut_hard() -> None:
    chunks = split_text("😀" * (TEXT_LIMIT * 2 + 10))
    assert [len(c) for c in chunks] == [TEXT_LIMIT, TEXT_LIMIT, 10]


def test_cut_exactly_at_the_limit_on_whitespace() -> None:
    text = "a" * TEXT_LIMIT + " " + "b"
    assert split_text(text) == ["a" * TEXT_LIMIT, "b"]


@pytest.mark.parametrize(("title", "limit", "expected"), [
    ("Sí", 20, "Sí"),
    ("Quiero hablar con una persona", 20, "Quiero hablar con…"),
    ("Región Metropolitana de Santiago", 24, "Región Metropolitana de…"),
    ("Supercalifragilisticoespialidoso", 20, "Supercalifragilisti…"),
    ("Necesito  ayuda\nahora", 20, "Necesito ayuda ahora"),
    ("Orientación, apoyo y más", 20, "Orientación, apoyo…"),
])
def test_shorten(title: str, limit: int, expected: str) -> None:
    result = shorten(title, limit)
    assert result == expected
    assert len(result) <= limit


def test_unique_titles() -> None:
    titles = unique_titles(["Hablar con una persona ahora", "Hablar con una persona luego",
                            "Sí", "Sí"], 20)
    assert titles == ["Hablar con una…", "Hablar con una… (2)", "Sí", "Sí (2)"]
    assert all(len(t) <= 20 for t in titles)
