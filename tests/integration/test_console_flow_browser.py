"""The whole handoff, through the real UIs in headless Chromium, against the real stack:

she writes an emergency on the simulator's phone page → the ticket tops the console queue →
a specialist logs in, claims it, reads the transcript, replies → the reply reaches the phone →
she closes the case → the bot answers the phone again.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from console.security import hash_password
from handoff.priority import EMERGENCY
from handoff.queue import HandoffQueue
from store.db import make_engine
from tests.browser import chromium_pool, requires_chromium

pytestmark = [pytest.mark.integration, pytest.mark.browser, requires_chromium]

EMERGENCY_TEXT = "me esta pegando ahora, ayuda"
REPLY_TEXT = "Hola, soy Carla, especialista. Estoy contigo. Si puedes, llama al 133."
ANSWER_TEXT = "si, puedo escribir"  # also the answer to the question the bot left open
QUIET = 4  # seconds without a bot message that count as silence (a Rasa turn takes ~1 s)
TURN = 30  # seconds: one Rasa turn plus a poll of the page
POLL = 20  # seconds: the console polls every 4 s


@pytest.fixture()
def chromium() -> Iterator[Callable[[str], object]]:
    """Start headless Chromium browsers by name (kept for failure screenshots)."""
    with chromium_pool() as start_browser:
        def start(name: str) -> object:
            driver = start_browser()
            driver.name_for_debugging = name
            return driver

        yield start


def unique_phone() -> str:
    """A Chilean mobile number no other test uses (11 digits)."""
    return f"5697{(time.time_ns() // 1000 + os.getpid()) % 10**7:07d}"


def screenshots(drivers: list, tag: str) -> list[str]:
    saved = []
    for driver in drivers:
        base = f"/tmp/{tag}-{driver.name_for_debugging}"
        try:
            driver.save_screenshot(f"{base}.png")
            Path(f"{base}.html").write_text(driver.page_source, encoding="utf-8")
            saved.append(f"{base}.png")
        except Exception:  # noqa: BLE001 - best effort, the real failure is what matters
            pass
    return saved


def test_emergency_to_specialist_and_back_to_the_bot(stack, chromium) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    queue = HandoffQueue(make_engine(stack.env()["DATABASE_URL"]))
    username = f"carla{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(12)
    queue.create_agent(username, hash_password(password), role="specialist")
    wa_id = unique_phone()

    phone = chromium("phone")
    console = chromium("console")

    def bot_texts() -> list[str]:
        return [li.text for li in phone.find_elements(
            By.CSS_SELECTOR, f"#messages-{wa_id} li.msg[data-direction=out]")]

    def write(text: str) -> None:
        field = phone.find_element(By.ID, f"input-{wa_id}")
        field.send_keys(text, Keys.ENTER)
        WebDriverWait(phone, TURN).until(
            lambda d: any(text in li.text for li in d.find_elements(
                By.CSS_SELECTOR, f"#messages-{wa_id} li.msg[data-direction=in]")),
            f"«{text}» on the phone")

    try:
        # 1. she writes the emergency on the phone page, from a number of her own
        phone.get(stack.simulator_url + "/")
        new_phone = WebDriverWait(phone, 15).until(ec.element_to_be_clickable((By.ID, "new-phone")))
        new_phone.send_keys(wa_id, Keys.ENTER)
        WebDriverWait(phone, 15).until(ec.element_to_be_clickable((By.ID, f"input-{wa_id}")))
        write(EMERGENCY_TEXT)
        WebDriverWait(phone, TURN).until(
            lambda d: any("133" in t for t in bot_texts()), "the emergency answer (133)")
        answered = len(bot_texts())

        ticket = queue.open_ticket_for(wa_id)
        assert ticket is not None and ticket.priority == EMERGENCY and ticket.status == "waiting"

        # 2. the specialist logs in; the ticket is at the top of the queue, with the banner
        console.get(stack.console_url + "/")
        WebDriverWait(console, 15).until(ec.url_contains("/login"))
        console.find_element(By.ID, "username").send_keys(username)
        console.find_element(By.ID, "password").send_keys(password)
        console.find_element(By.ID, "login-submit").click()
        WebDriverWait(console, POLL).until(
            ec.presence_of_element_located((By.ID, f"ticket-{ticket.id}")), "the ticket in the queue")
        WebDriverWait(console, POLL).until(
            ec.visibility_of_element_located((By.ID, "emergency-banner")), "the emergency banner")
        items = console.find_elements(By.CSS_SELECTOR, "#waiting-list li.ticket")
        ids = [item.get_attribute("id") for item in items]
        ahead = items[: ids.index(f"ticket-{ticket.id}")]
        # emergencies first, then by waiting time: only older emergencies (left by other
        # tests of this session) may come before hers, so alone in the queue she is first
        assert all(item.get_attribute("data-priority") == str(EMERGENCY) for item in ahead)
        assert ids.index(f"ticket-{ticket.id}") + 1 == queue.position(ticket.id)
        if not any(t.priority == EMERGENCY and t.id != ticket.id for t in queue.list_waiting()):
            assert ids[0] == f"ticket-{ticket.id}"

        # 3. she claims it, reads the transcript, replies
        console.find_element(By.ID, f"claim-{ticket.id}").click()
        WebDriverWait(console, 15).until(ec.url_contains(f"/tickets/{ticket.id}"))
        WebDriverWait(console, POLL).until(
            ec.text_to_be_present_in_element((By.ID, "transcript"), EMERGENCY_TEXT),
            "her message in the transcript")
        assert "Tomaste el caso." in console.find_element(By.ID, "flash").text
        console.find_element(By.ID, "reply-text").send_keys(REPLY_TEXT)
        console.find_element(By.ID, "reply-submit").click()
        # the console reports what the channel's outbox knows: still queued, or WhatsApp
        # (here the simulator) already took it; never «sent» before it left
        WebDriverWait(console, TURN).until(
            lambda d: "msg=pending" in d.current_url or "msg=sent" in d.current_url,
            "the reply sent")
        flash = console.find_element(By.ID, "flash").text
        assert ("Mensaje enviado: WhatsApp lo aceptó." in flash if "msg=sent" in console.current_url
                else "todavía no sale" in flash)
        WebDriverWait(console, POLL).until(
            ec.text_to_be_present_in_element((By.ID, "transcript"), REPLY_TEXT),
            "the reply in the transcript")

        # 4. the reply reaches her phone
        WebDriverWait(phone, TURN).until(
            lambda d: any(REPLY_TEXT in t for t in bot_texts()), "the reply on the phone")
        assert len(bot_texts()) > answered

        # she answers the specialist: the specialist reads it, the bot keeps quiet
        quiet_from = len(bot_texts())
        write(ANSWER_TEXT)
        WebDriverWait(console, POLL).until(
            ec.text_to_be_present_in_element((By.ID, "transcript"), ANSWER_TEXT),
            "her answer in the transcript")
        time.sleep(QUIET)
        assert bot_texts()[quiet_from:] == [], "the bot talked over the specialist"

        # 5. the specialist closes the case with an outcome (the goodbye is pre-checked: she
        # said nothing against being written to, and she did not leave with «salir»)
        from selenium.webdriver.support.ui import Select

        assert console.find_element(By.ID, "send-goodbye").is_selected()
        Select(console.find_element(By.ID, "close-outcome")).select_by_value("emergencia_derivada")
        console.find_element(By.ID, "close-button").click()
        WebDriverWait(console, TURN).until(ec.url_contains("msg=closed"), "the case closed")
        assert "Caso cerrado" in console.find_element(By.ID, "flash").text
        assert queue.get(ticket.id).status == "closed"
        assert queue.get(ticket.id).outcome == "emergencia_derivada"
        assert queue.open_ticket_for(wa_id) is None
        WebDriverWait(phone, TURN).until(
            lambda d: any("Gracias por escribirnos" in t for t in bot_texts()),
            "the goodbye on the phone")

        # 6. she writes again and the bot answers again, afresh: the welcome and the menu,
        # not the emergency questions she left unanswered before the specialist came in
        before = len(bot_texts())
        write("hola")
        WebDriverWait(phone, TURN).until(
            lambda d: any("gratis y confidencial" in t for t in bot_texts()[before:]),
            "the welcome after the case was closed")
        WebDriverWait(phone, TURN).until(
            lambda d: any("¿En qué te puedo ayudar?" in t for t in bot_texts()[before:]),
            "the menu after the welcome")
        time.sleep(QUIET)
        after = bot_texts()[before:]
        assert len(after) == 2 and not any("sin peligro" in t for t in after), after
        assert queue.open_ticket_for(wa_id) is None
    except BaseException:
        saved = screenshots([phone, console], f"console-flow-{wa_id}")
        logs = f"/tmp/console-flow-{wa_id}-logs"
        shutil.copytree(stack.log_dir, logs, dirs_exist_ok=True)
        print(f"screenshots and page sources: {saved}; stack logs copied to {logs}")
        raise
