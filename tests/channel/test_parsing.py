"""Parsing every message type of the shared reference, and what Rasa receives."""

from __future__ import annotations

import json

import pytest
from channel_helpers import FIXTURES, PROFILE_NAME, WA_ID, load_fixture, with_reply_id

from channels.whatsapp.config import SANDBOX_APP_SECRET, SANDBOX_PHONE_NUMBER_ID
from channels.whatsapp.inbound import InboundKind, parse_update
from channels.whatsapp.payloads import sign_payload
from channels.whatsapp.translate import LOCATION_INTENT, UNSUPPORTED_INTENT, to_rasa


def parse(name: str):
    return parse_update(load_fixture(name), SANDBOX_PHONE_NUMBER_ID)


def rasa_of(payload: dict):
    update = parse_update(payload, SANDBOX_PHONE_NUMBER_ID)
    assert len(update.messages) == 1
    return to_rasa(update.messages[0], SANDBOX_APP_SECRET)


def test_text() -> None:
    message = parse("text").messages[0]
    assert (message.kind, message.type, message.sender, message.text) == (
        "text", "text", WA_ID, "Hola, necesito ayuda")
    rasa = to_rasa(message, SANDBOX_APP_SECRET)
    assert rasa.text == "Hola, necesito ayuda"
    assert rasa.metadata == {"wa_message_id": message.message_id, "timestamp": "1732700000",
                             "type": "text"}


def test_text_with_accents_and_emoji_is_kept() -> None:
    assert rasa_of(load_fixture("text_accents_emoji")).text.startswith("Mi pareja me amenazó 😢")


def test_forwarded_text_is_plain_text() -> None:
    assert rasa_of(load_fixture("text_forwarded")).text == "reenviado"


def test_text_starting_with_slash_is_neutralised() -> None:
    assert rasa_of(load_fixture("text_slash")).text == "restart"


@pytest.mark.parametrize("name", ["button_reply", "list_reply", "template_button"])
def test_signed_reply_id_becomes_the_payload(name: str) -> None:
    payload = '/informar_riesgo{"nivel":"alto"}'
    reply_id = sign_payload(payload, WA_ID, SANDBOX_APP_SECRET)
    rasa = rasa_of(with_reply_id(name, reply_id))
    assert rasa.text == payload
    assert rasa.metadata["payload"] is True


@pytest.mark.parametrize("name", ["button_reply", "list_reply", "template_button"])
@pytest.mark.parametrize("reply_id", ["/restart", "/restart~0123456789abcdef", "", "hola"])
def test_unsigned_or_forged_reply_id_is_neutralised_title(name: str, reply_id: str) -> None:
    rasa = rasa_of(with_reply_id(name, reply_id))
    assert not rasa.text.startswith("/")
    assert "payload" not in rasa.metadata
    assert rasa.text in {"Sí, estoy a salvo", "Región Metropolitana", "Quiero retomar"}


def test_reply_signed_for_another_user_is_not_trusted() -> None:
    reply_id = sign_payload("/restart", "56999999999", SANDBOX_APP_SECRET)
    assert rasa_of(with_reply_id("button_reply", reply_id)).text == "Sí, estoy a salvo"


def test_reply_signed_with_another_secret_is_not_trusted() -> None:
    reply_id = sign_payload("/restart", WA_ID, "another-secret")
    assert rasa_of(with_reply_id("list_reply", reply_id)).text == "Región Metropolitana"


def test_reply_title_starting_with_slash_is_neutralised() -> None:
    payload = with_reply_id("button_reply", "x")
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["interactive"]["button_reply"][
        "title"] = " /restart"
    assert rasa_of(payload).text == "restart"


def test_location() -> None:
    rasa = rasa_of(load_fixture("location"))
    assert rasa.text == LOCATION_INTENT == "/compartir_ubicacion"
    assert rasa.metadata["location"] == {"latitude": -33.4489, "longitude": -70.6693,
                                         "name": "Plaza de Armas", "address": "Santiago, Chile"}
    assert rasa.metadata["type"] == "location"


def test_location_without_name_and_address() -> None:
    rasa = rasa_of(load_fixture("location_minimal"))
    assert rasa.metadata["location"] == {"latitude": -36.8201, "longitude": -73.0444}


@pytest.mark.parametrize(("name", "media_type"), [
    ("document", "document"),
    ("video", "video"),
    ("voice", "audio"),
    ("audio", "audio"),
    ("sticker", "sticker"),
    ("contacts", "contacts"),
])
def test_media_without_words_is_the_unsupported_intent(name: str, media_type: str) -> None:
    """The bot answers it from the domain (utter_solo_texto); the channel sends nothing."""
    rasa = rasa_of(load_fixture(name))
    assert rasa.text == UNSUPPORTED_INTENT == "/medio_no_soportado"
    assert rasa.metadata["media_type"] == media_type
    assert rasa.metadata["type"] == media_type


def test_a_caption_is_her_words() -> None:
    rasa = rasa_of(load_fixture("image"))
    assert rasa.text == "mira esto"
    assert rasa.metadata["media_type"] == "image" and rasa.metadata["caption"] is True


def test_voice_note_is_flagged() -> None:
    assert rasa_of(load_fixture("voice")).metadata["voice"] is True


@pytest.mark.parametrize(("name", "detail"), [("unsupported", "error:131051"),
                                              ("unknown", "error:131051")])
def test_unsupported_and_unknown_types_are_skipped(name: str, detail: str) -> None:
    update = parse(name)
    assert not update.messages
    (event,) = update.events
    assert (event.kind, event.detail) == (InboundKind.UNUSABLE, detail)


def test_reaction_is_a_silent_event() -> None:
    update = parse("reaction")
    assert not update.messages and [e.kind for e in update.events] == [InboundKind.REACTION]


def test_statuses() -> None:
    delivered = parse("status_delivered")
    assert not delivered.messages
    assert delivered.statuses[0].status == "delivered"
    failed = parse("status_failed").statuses[0]
    assert (failed.status, failed.error_code) == ("failed", 131047)


def test_several_entries_changes_and_messages() -> None:
    update = parse("multi")
    assert [m.text for m in update.messages] == ["uno", "dos", "tres"]
    assert [m.sender for m in update.messages] == [WA_ID, WA_ID, "56933334444"]
    assert [s.status for s in update.statuses] == ["read"]


def test_other_phone_number_id_is_skipped() -> None:
    update = parse("other_number")
    assert not update.messages and not update.statuses
    assert [e.detail for e in update.skipped] == ["other_number"]


def test_partial_payload_keeps_valid_messages() -> None:
    update = parse("partial")
    assert [m.text for m in update.messages] == ["válido", "también válido"]
    assert len(update.skipped) == 4


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_profile_name_never_reaches_rasa(path) -> None:
    update = parse_update(json.loads(path.read_text("utf-8")), SANDBOX_PHONE_NUMBER_ID)
    for message in update.messages:
        rasa = to_rasa(message, SANDBOX_APP_SECRET)
        assert PROFILE_NAME not in json.dumps(rasa.metadata, ensure_ascii=False)
        assert PROFILE_NAME not in rasa.text
        assert {"wa_message_id", "timestamp", "type"} <= set(rasa.metadata)
    for event in update.events:
        assert PROFILE_NAME not in repr(event)


@pytest.mark.parametrize("data", [
    None, [], "text", 42,
    {},
    {"object": "page", "entry": []},
    {"object": "whatsapp_business_account"},
    {"object": "whatsapp_business_account", "entry": None},
    {"object": "whatsapp_business_account", "entry": {}},
    {"object": "whatsapp_business_account", "entry": []},
    {"object": "whatsapp_business_account", "entry": [None]},
    {"object": "whatsapp_business_account", "entry": [{"changes": "x"}]},
    {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages"}]}]},
    {"object": "whatsapp_business_account", "entry": [{"changes": [
        {"field": "messages", "value": {"metadata": None}}]}]},
    {"object": "whatsapp_business_account", "entry": [{"changes": [
        {"field": "messages", "value": {"metadata": {"phone_number_id": SANDBOX_PHONE_NUMBER_ID},
                                        "messages": [{"id": None}]}}]}]},
    {"object": "whatsapp_business_account", "entry": [{"changes": [
        {"field": "messages", "value": {"metadata": {"phone_number_id": SANDBOX_PHONE_NUMBER_ID},
                                        "messages": "many"}}]}]},
])
def test_malformed_updates_are_recorded_as_skipped(data) -> None:
    update = parse_update(data, SANDBOX_PHONE_NUMBER_ID)
    assert not update.messages and not update.statuses
    assert update.events and all(e.kind is InboundKind.UNUSABLE for e in update.events)
    assert all(e.detail and len(e.detail) <= 64 and " " not in e.detail for e in update.events)


@pytest.mark.parametrize("message", [
    {"from": WA_ID, "id": "w1", "timestamp": "1", "type": "text", "text": {"body": None}},
    {"from": WA_ID, "id": "", "timestamp": "1", "type": "text", "text": {"body": "x"}},
    {"from": None, "id": "w1", "timestamp": "1", "type": "text", "text": {"body": "x"}},
    {"from": WA_ID, "id": "w1", "timestamp": "1", "type": None},
    {"from": WA_ID, "id": "w1", "timestamp": "1", "type": "interactive", "interactive": None},
    {"from": WA_ID, "id": "w1", "timestamp": "1", "type": "interactive",
     "interactive": {"type": "button_reply", "button_reply": {"id": "", "title": None}}},
    {"from": WA_ID, "id": "w1", "timestamp": "1", "type": "button", "button": {}},
    {"from": WA_ID, "id": "w1", "timestamp": "1", "type": "location",
     "location": {"latitude": True, "longitude": 1}},
    {"from": WA_ID, "id": "w1", "timestamp": "1", "type": "location",
     "location": {"latitude": 91, "longitude": 1}},
])
def test_bad_messages_are_skipped(message: dict) -> None:
    good = {"from": WA_ID, "id": "w2", "timestamp": "1", "type": "text", "text": {"body": "ok"}}
    data = {"object": "whatsapp_business_account", "entry": [{"changes": [
        {"field": "messages", "value": {"metadata": {"phone_number_id": SANDBOX_PHONE_NUMBER_ID},
                                        "messages": [message, good]}}]}]}
    update = parse_update(data, SANDBOX_PHONE_NUMBER_ID)
    assert [m.text for m in update.messages] == ["ok"]
    assert len(update.skipped) == 1


@pytest.mark.parametrize("timestamp", [None, "ayer", ""])
def test_a_message_without_a_usable_timestamp_is_still_hers(timestamp) -> None:
    message = {"from": WA_ID, "id": "w1", "timestamp": timestamp, "type": "text",
               "text": {"body": "x"}}
    data = {"object": "whatsapp_business_account", "entry": [{"changes": [
        {"field": "messages", "value": {"metadata": {"phone_number_id": SANDBOX_PHONE_NUMBER_ID},
                                        "messages": [message]}}]}]}
    (parsed,) = parse_update(data, SANDBOX_PHONE_NUMBER_ID).messages
    assert parsed.text == "x" and parsed.timestamp == ""


@pytest.mark.parametrize(("interactive", "kind"), [
    ({"type": "nfm_reply", "nfm_reply": {"response_json": "{}"}}, InboundKind.FLOW_COMPLETION),
    ({"type": "call_permission_reply", "call_permission_reply": {"response": "accept"}},
     InboundKind.CALL_PERMISSION),
    ({"type": "product_list"}, InboundKind.UNUSABLE),
])
def test_other_interactive_types_are_silent_events(interactive, kind) -> None:
    data = {"object": "whatsapp_business_account", "entry": [{"changes": [
        {"field": "messages", "value": {"metadata": {"phone_number_id": SANDBOX_PHONE_NUMBER_ID},
                                        "messages": [{"from": WA_ID, "id": "w", "timestamp": "1",
                                                      "type": "interactive",
                                                      "interactive": interactive}]}}]}]}
    update = parse_update(data, SANDBOX_PHONE_NUMBER_ID)
    assert not update.messages and [e.kind for e in update.events] == [kind]


def test_non_message_fields_are_skipped() -> None:
    data = {"object": "whatsapp_business_account", "entry": [{"changes": [
        {"field": "account_update", "value": {"event": "x"}}]}]}
    update = parse_update(data, SANDBOX_PHONE_NUMBER_ID)
    assert not update.messages
    assert [e.detail for e in update.skipped] == ["field:account_update"]
