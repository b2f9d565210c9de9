"""The console in a real browser (headless Chromium): login, live queue, emergency banner."""

from __future__ import annotations

import time

import pytest
from conftest import PASSWORD, FakeRasa, console_settings, make_agent, start_console

from handoff.priority import EMERGENCY, RISK
from tests.browser import chromium, requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium]


@pytest.fixture
def driver():
    with chromium(phone_screen=True) as browser:
        yield browser


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in the browser")


def test_login_queue_emergency_claim_reply(driver, queue, fake_rasa: FakeRasa) -> None:
    from selenium.webdriver.common.by import By

    console = start_console(queue, fake_rasa,
                            settings=console_settings(fake_rasa, poll_seconds=1))
    try:
        make_agent(queue, "ana")
        waiting = queue.open_ticket("56900000001", "risk", RISK, "violencia_psicologica")
        driver.get(f"{console.url}/")
        assert driver.current_url.endswith("/login")
        driver.find_element(By.ID, "username").send_keys("ana")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.ID, "login-submit").click()
        wait_until(lambda: driver.find_elements(By.ID, f"ticket-{waiting.id}"))
        banner = driver.find_element(By.ID, "emergency-banner")
        assert not banner.is_displayed()

        urgent = queue.open_ticket("56900000002", "emergency", EMERGENCY, "emergencia_ahora")
        wait_until(lambda: banner.is_displayed())
        assert "EMERGENCIA" in driver.title
        wait_until(lambda: driver.find_elements(By.ID, f"ticket-{urgent.id}"))
        items = driver.find_elements(By.CSS_SELECTOR, "#waiting-list li.ticket")
        assert items[0].get_attribute("id") == f"ticket-{urgent.id}"

        driver.find_element(By.ID, f"claim-{urgent.id}").click()
        wait_until(lambda: driver.find_elements(By.ID, "reply-form"))
        driver.find_element(By.ID, "reply-text").send_keys("Estoy aquí contigo.")
        driver.find_element(By.ID, "reply-submit").click()
        wait_until(lambda: "msg=accepted" in driver.current_url)
        # no outbox connected: the console says what it knows, not «Mensaje enviado»
        assert "aceptó el mensaje" in driver.find_element(By.ID, "flash").text
        assert fake_rasa.posted[-1]["body"]["text"] == "Estoy aquí contigo."
        wait_until(lambda: not driver.find_element(By.ID, "emergency-banner").is_displayed())
        inner, scroll = driver.execute_script(
            "return [window.innerWidth, document.documentElement.scrollWidth]")
        assert inner <= 400 and scroll <= inner  # no horizontal scrolling on a phone
    finally:
        console.stop()
