"""`make -s triage`: one message per line in, one JSON object per line out.

One run of the command reads both groups of lines below (loading the real model takes about a
minute on a slow machine; each test checks its own lines of that run's output)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

TEXT_LINES = ["me esta pegando ahora", "hola", "", "/restart", " / /restart", "como denuncio",
              "mascarilla 19", "esta afuera de la casa gritando q me va a matar"]
# invalid UTF-8, an encoded surrogate, NUL, a BOM, a truncated character, an emoji, a very
# long line, an escaped surrogate written out
BYTE_LINES = [b"hola \xff", b"me esta pegando ahora \xed\xa0\xbd", b"\x00", b"\xef\xbb\xbfhola",
              b"ayuda \xc3", "me pega \U0001F62D".encode(), b"a" * 20_000, b"\\ud83d"]


@pytest.fixture(scope="module")
def triaged() -> list[dict[str, Any]]:
    """The command's output for TEXT_LINES then BYTE_LINES, one object per line."""
    lines = [line.encode() for line in TEXT_LINES] + BYTE_LINES
    result = subprocess.run(["make", "-s", "triage"], cwd=ROOT,
                            input=b"\n".join(lines) + b"\n", capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    out = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    assert len(out) == len(lines)
    return out


def test_triage_command_reads_lines_and_writes_json_lines(triaged):
    out = triaged[:len(TEXT_LINES)]
    assert [o["text"] for o in out] == TEXT_LINES
    for obj in out:
        assert {"text", "intent", "confidence", "level", "handoff", "kind", "immediacy",
                "wants_person"} <= set(obj)
    by_text = {o["text"]: o for o in out}
    assert by_text["me esta pegando ahora"]["level"] == "emergency"
    assert by_text["me esta pegando ahora"]["handoff"] is True
    assert by_text["mascarilla 19"]["intent"] == "codigo_mascarilla"
    assert by_text["como denuncio"]["level"] == "info"
    assert by_text[""]["intent"] is None
    assert by_text["/restart"]["intent"] != "restart"
    assert by_text[" / /restart"]["intent"] != "restart"
    # a threat is the kind; «he is outside now» makes it an emergency
    threat = by_text["esta afuera de la casa gritando q me va a matar"]
    assert (threat["level"], threat["immediacy"]) == ("emergency", "ahora")


def test_triage_command_reads_any_bytes_with_the_real_model(triaged):
    """One JSON line for each (invalid bytes read as U+FFFD), and the command exits 0."""
    out = triaged[len(TEXT_LINES):]
    assert [o["text"] for o in out] == [line.decode("utf-8", "replace") for line in BYTE_LINES]
    assert out[1]["level"] == "emergency"
