"""Webhook signatures over raw bytes, the `/` neutralisation and signed reply ids."""

from __future__ import annotations

import json

import pytest

from channels.whatsapp.payloads import (
    BUTTON_ID_MAX,
    LIST_ROW_ID_MAX,
    neutralise,
    sign_payload,
    verify_payload,
)
from channels.whatsapp.signature import sign_body, verify_signature
from simulator.webhooks import sign as meta_sign

SECRET = "s3cr3t-ñ"
PAYLOAD = {"text": {"body": "¿Dónde está la comisaría más cercana? 🚓 Ñuble, camión"}}


def test_signature_matches_meta_computation() -> None:
    body = json.dumps(PAYLOAD, ensure_ascii=False).encode("utf-8")
    assert sign_body(body, SECRET) == meta_sign(body, SECRET)
    assert verify_signature(body, meta_sign(body, SECRET), SECRET)


@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_signature_is_over_raw_bytes_not_reserialised_json(ensure_ascii: bool) -> None:
    raw = json.dumps(PAYLOAD, ensure_ascii=ensure_ascii, indent=1).encode("utf-8")
    header = meta_sign(raw, SECRET)
    assert verify_signature(raw, header, SECRET)
    reserialised = json.dumps(json.loads(raw), ensure_ascii=not ensure_ascii).encode("utf-8")
    assert reserialised != raw
    assert not verify_signature(reserialised, header, SECRET)


@pytest.mark.parametrize("header", [
    None, "", "sha256=", "sha1=abc", "sha256=" + "0" * 64, "SHA256=xyz", "sha256=ñ",
])
def test_missing_or_wrong_signatures_fail(header: str | None) -> None:
    assert not verify_signature(b"{}", header, SECRET)


def test_wrong_secret_fails() -> None:
    assert not verify_signature(b"{}", meta_sign(b"{}", "other"), SECRET)


@pytest.mark.parametrize(("text", "expected"), [
    ("/restart", "restart"),
    ("  //restart", "restart"),
    ("/ /  / hola", "hola"),
    ("\u3000/stop", "stop"),
    ("\n/\t/saludo{\"a\": 1}", "saludo{\"a\": 1}"),
    ("///", ""),
    ("   ", ""),
    ("", ""),
    (None, ""),
    ("hola / chao", "hola / chao"),
    ("Hola", "Hola"),
])
def test_neutralise(text: str | None, expected: str) -> None:
    result = neutralise(text)
    assert result == expected
    assert not result.strip().startswith("/")


def test_signed_payload_round_trip() -> None:
    payload = '/elegir_region{"region":"Ñuble"}'
    reply_id = sign_payload(payload, "56911112222", SECRET)
    assert reply_id.startswith(payload)
    assert verify_payload(reply_id, "56911112222", SECRET) == payload


@pytest.mark.parametrize("reply_id", [
    None, "", "/restart", "/restart~", "/restart~zzzzzzzzzzzzzzzz", "~", "a~b~c",
])
def test_unsigned_ids_do_not_verify(reply_id: str | None) -> None:
    assert verify_payload(reply_id, "56911112222", SECRET) is None


def test_tampered_payload_does_not_verify() -> None:
    reply_id = sign_payload("/afirmar", "56911112222", SECRET)
    assert verify_payload(reply_id.replace("afirmar", "restart"), "56911112222", SECRET) is None


def test_signed_id_is_bound_to_recipient() -> None:
    reply_id = sign_payload("/afirmar", "56911112222", SECRET)
    assert verify_payload(reply_id, "56933334444", SECRET) is None


def test_payload_containing_separator() -> None:
    payload = "/nota{\"t\":\"a~b\"}"
    assert verify_payload(sign_payload(payload, "1", SECRET), "1", SECRET) == payload


def test_signed_ids_respect_length_limits() -> None:
    assert len(sign_payload("x" * 239, "1", SECRET)) == BUTTON_ID_MAX
    assert sign_payload("x" * 240, "1", SECRET) is None
    assert sign_payload("x" * 190, "1", SECRET, LIST_ROW_ID_MAX) is None
