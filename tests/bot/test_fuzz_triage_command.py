"""Fuzzing `make -s triage` (triage/cli.py) without loading a model: any bytes on stdin give
one JSON line per input line, in UTF-8, and never an exception. The stand-in for the NLU
raises on text that is not UTF-8, as spaCy does (a lone surrogate once made the command, and
the bot, fail)."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.cli import Triager, input_lines, run_lines
from triage.levels import load_triage_map

FUZZ = settings(max_examples=150, derandomize=True, deadline=None, database=None)
NASTY = [b"\xff\xfe", b"hola \xed\xa0\xbd", b"\xc3", b"\x00", b"/restart", b"\r",
         "me pega \U0001F62D".encode(), b"\xe2\x80\xae", b"\\ud83d"]
lines = st.lists(st.one_of(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")),
                           st.sampled_from(NASTY)), max_size=8)


class SpacyLikeAgent:
    """Raises like spaCy on a string that cannot be encoded as UTF-8."""

    async def parse_message(self, text: str) -> dict:
        text.encode("utf-8")
        return {"text": text, "intent": {"name": "saludar", "confidence": 0.9},
                "entities": [], "intent_ranking": []}


@pytest.fixture(scope="module")
def triager() -> Triager:
    reader = Triager.__new__(Triager)
    reader._agent = SpacyLikeAgent()
    reader._triage = load_triage_map()
    return reader


def run(triager: Triager, data: bytes) -> list[dict]:
    out = io.StringIO()
    assert asyncio.run(run_lines(io.BytesIO(data), out, triager)) == 0
    text = out.getvalue()
    text.encode("utf-8")  # what main() writes to stdout, strictly
    return [json.loads(line) for line in text.splitlines()]


@FUZZ
@given(chunks=lines, crlf=st.booleans(), final_newline=st.booleans())
def test_any_bytes_give_one_json_line_per_line(triager, chunks, crlf, final_newline) -> None:
    data = (b"\r\n" if crlf else b"\n").join(chunks) + (b"\n" if final_newline and chunks
                                                         else b"")
    results = run(triager, data)
    expected = list(input_lines(io.BytesIO(data)))
    assert [r["text"] for r in results] == expected
    assert len(results) == len(io.BytesIO(data).readlines())
    for result in results:
        assert {"text", "intent", "level", "handoff"} <= set(result)


def test_invalid_utf8_and_encoded_surrogates_are_read_not_fatal(triager) -> None:
    results = run(triager, b"hola \xff\nme pega \xed\xa0\xbd\ncomo denuncio\n")
    assert [r["text"] for r in results] == ["hola \ufffd", "me pega \ufffd\ufffd\ufffd",
                                            "como denuncio"]
    assert all(r["intent"] == "saludar" for r in results)


def test_a_lone_surrogate_reaching_the_reader_is_read(triager) -> None:
    """Through the Python API (bench, tools), a str may carry a lone surrogate."""
    reading = asyncio.run(triager.reading("me pega \ud83d"))
    assert reading.intent == "saludar"
