"""The simulator's phone page in headless Chromium: write, get buttons, tap one."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from sim_helpers import Receiver

from channels.whatsapp.inbound import parse_update
from channels.whatsapp.signature import verify_signature
from simulator import start_simulator
from simulator.serving import BackgroundServer, RunningSimulator
from tests.browser import chromium, requires_chromium

USER = "56911112222"

pytestmark = [pytest.mark.browser, requires_chromium]


def wait_until(condition: Callable[[], object], timeout: float = 10.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def stack() -> Iterator[tuple[RunningSimulator, Receiver]]:
    """A fake webhook receiver (the bot) and the simulator posting to it, in threads."""
    receiver = Receiver()
    with BackgroundServer(receiver.app()) as server:
        with start_simulator(webhook_url=f"{server.url}/webhook") as sim:
            yield sim, receiver


@pytest.fixture
def browser() -> Iterator[object]:
    with chromium() as driver:
        yield driver


def webhook(receiver: Receiver, index: int) -> dict:
    body, headers = wait_until(lambda: len(receiver.requests) > index and receiver.requests[index],
                               what=f"webhook {index + 1}")
    assert verify_signature(body, headers["x-hub-signature-256"], "sandbox-secret")
    return json.loads(body)


def bot_sends(sim: RunningSimulator, interactive: dict) -> None:
    answer = httpx.post(
        f"{sim.api_url}/{sim.settings.phone_number_id}/messages",
        headers={"Authorization": f"Bearer {sim.settings.access_token}"},
        json={"messaging_product": "whatsapp", "recipient_type": "individual", "to": USER,
              "type": "interactive", "interactive": interactive})
    assert answer.status_code == 200, answer.text


def test_write_get_buttons_and_tap(stack, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    sim, receiver = stack
    browser.get(sim.url + "/")

    # a phone is there by default; write with the keyboard and press Enter
    field = wait_until(lambda: browser.find_elements(By.ID, f"input-{USER}"), what="phone")[0]
    field.send_keys("Hola, necesito ayuda ñ")
    field.send_keys(Keys.ENTER)
    (message,) = parse_update(webhook(receiver, 0), "sandbox-phone-id").messages
    assert (message.sender, message.type, message.text) == (USER, "text",
                                                            "Hola, necesito ayuda ñ")

    # the (fake) bot answers with reply buttons through the Graph API
    bot_sends(sim, {"type": "button", "body": {"text": "¿Estás a salvo ahora?"},
                    "action": {"buttons": [
                        {"type": "reply", "reply": {"id": "/afirmar~0011223344556677",
                                                    "title": "Sí"}},
                        {"type": "reply", "reply": {"id": "/negar~8899aabbccddeeff",
                                                    "title": "No"}}]}})
    selector = f"#messages-{USER} [data-role=reply-button]"
    buttons = wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, selector),
                         what="reply buttons")
    assert [b.text for b in buttons] == ["Sí", "No"]
    assert "¿Estás a salvo ahora?" in browser.find_element(By.ID, f"messages-{USER}").text
    buttons[1].click()
    (reply,) = parse_update(webhook(receiver, 1), "sandbox-phone-id").messages
    assert (reply.type, reply.reply_id, reply.reply_title) == (
        "interactive", "/negar~8899aabbccddeeff", "No")

    # a list: open it with the keyboard and pick a row
    bot_sends(sim, {"type": "list", "body": {"text": "¿En qué región estás?"},
                    "action": {"button": "Ver opciones", "sections": [{"rows": [
                        {"id": "r-biobio~00", "title": "Biobío", "description": "Concepción"},
                        {"id": "r-rm~01", "title": "Metropolitana"}]}]}})
    opener = wait_until(lambda: browser.find_elements(
        By.CSS_SELECTOR, f"#messages-{USER} [data-role=list-open]"), what="list")[0]
    opener.send_keys(Keys.ENTER)
    row = browser.find_element(By.CSS_SELECTOR, f"#messages-{USER} [data-row-id='r-rm~01']")
    assert row.is_displayed()
    row.click()
    (picked,) = parse_update(webhook(receiver, 2), "sandbox-phone-id").messages
    assert (picked.reply_id, picked.reply_title) == ("r-rm~01", "Metropolitana")

    # location and voice note buttons
    browser.find_element(By.CSS_SELECTOR, f"#phone-{USER} [data-role=send-location]").click()
    (location,) = parse_update(webhook(receiver, 3), "sandbox-phone-id").messages
    assert location.type == "location" and location.location["latitude"] < 0
    browser.find_element(By.CSS_SELECTOR, f"#phone-{USER} [data-role=send-voice]").click()
    (voice,) = parse_update(webhook(receiver, 4), "sandbox-phone-id").messages
    assert voice.type == "audio" and voice.voice


def test_several_phones_side_by_side(stack, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    sim, receiver = stack
    browser.get(sim.url + "/")
    new_phone = wait_until(lambda: browser.find_elements(By.ID, "new-phone"), what="form")[0]
    label = browser.find_element(By.CSS_SELECTOR, "label[for=new-phone]")
    assert label.text
    new_phone.send_keys("56933334444", Keys.ENTER)
    field = wait_until(lambda: browser.find_elements(By.ID, "input-56933334444"),
                       what="second phone")[0]
    phones = browser.find_elements(By.CSS_SELECTOR, "section.phone[data-wa-id]")
    assert [p.get_attribute("data-wa-id") for p in phones] == [USER, "56933334444"]
    field.send_keys("desde el segundo teléfono", Keys.ENTER)
    (message,) = parse_update(webhook(receiver, 0), "sandbox-phone-id").messages
    assert message.sender == "56933334444"
    # the bot's text answer appears only on that phone
    httpx.post(f"{sim.api_url}/{sim.settings.phone_number_id}/messages",
               headers={"Authorization": f"Bearer {sim.settings.access_token}"},
               json={"messaging_product": "whatsapp", "to": "56933334444", "type": "text",
                     "text": {"body": "Hola, te leo."}})
    wait_until(lambda: "Hola, te leo." in browser.find_element(
        By.ID, "messages-56933334444").text, what="answer")
    assert "Hola, te leo." not in browser.find_element(By.ID, f"messages-{USER}").text
