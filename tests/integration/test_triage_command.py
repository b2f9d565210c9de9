"""`make -s triage`: one message per line in, one JSON object per line out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_triage_command_reads_lines_and_writes_json_lines():
    lines = ["me esta pegando ahora", "hola", "", "/restart", " / /restart", "como denuncio",
             "mascarilla 19", "esta afuera de la casa gritando q me va a matar"]
    result = subprocess.run(["make", "-s", "triage"], cwd=ROOT, input="\n".join(lines) + "\n",
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["text"] for o in out] == lines
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


def test_triage_command_reads_any_bytes_with_the_real_model():
    """Invalid UTF-8, an encoded surrogate, NUL, a BOM, a truncated character and a very
    long line: one JSON line each (invalid bytes read as U+FFFD), exit 0."""
    lines = [b"hola \xff", b"me esta pegando ahora \xed\xa0\xbd", b"\x00", b"\xef\xbb\xbfhola",
             b"ayuda \xc3", "me pega \U0001F62D".encode(), b"a" * 20_000, b"\\ud83d"]
    result = subprocess.run([sys.executable, "-m", "triage.cli"], cwd=ROOT,
                            input=b"\n".join(lines) + b"\n", capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    out = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    assert [o["text"] for o in out] == [line.decode("utf-8", "replace") for line in lines]
    assert out[1]["level"] == "emergency"
