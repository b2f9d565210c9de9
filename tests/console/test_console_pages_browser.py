"""The console's pages in headless Chromium: the conversation layout at 1280×900 and on a
390×844 phone, the supervisor's SLA alert (and how long after the breach it shows), the
reports page and account management. Screenshots go to ``CONSOLE_SCREENS_DIR`` when set."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import timezone
from pathlib import Path

import pytest
from conftest import PASSWORD, FakeRasa, RunningConsole, console_settings, make_agent, start_console
from scenario import build, history

from handoff.priority import EMERGENCY, Priority
from handoff.sla import SlaPolicy
from tests.browser import chromium, requires_chromium

pytestmark = [pytest.mark.browser, requires_chromium]

DESKTOP = (1280, 900)
PHONE = (390, 844)


def by_id(driver, element_id: str):  # noqa: ANN001, ANN201
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def wait_until(predicate, timeout: float = 15.0, what: str = "condition") -> None:  # noqa: ANN001
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not met in the browser")


def viewport(driver, size: tuple[int, int], phone: bool) -> None:  # noqa: ANN001
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": size[0], "height": size[1], "deviceScaleFactor": 2 if phone else 1,
        "mobile": phone})


def log_in(driver, console: RunningConsole, username: str, password: str = PASSWORD) -> None:  # noqa: ANN001
    driver.delete_all_cookies()
    driver.get(f"{console.url}/login")
    by_id(driver, "username").send_keys(username)
    by_id(driver, "password").send_keys(password)
    by_id(driver, "login-submit").click()
    wait_until(lambda: "/login" not in driver.current_url, what="logged in")


def screenshot(driver, name: str, tmp_path: Path) -> Path:  # noqa: ANN001
    folder = Path(os.environ.get("CONSOLE_SCREENS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def no_sideways_scrolling(driver) -> bool:  # noqa: ANN001
    inner, scroll = driver.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]")
    return scroll <= inner


@pytest.fixture
def shift_console(queue, fake_rasa: FakeRasa) -> Iterator[tuple[RunningConsole, object]]:
    console = start_console(queue, fake_rasa, settings=console_settings(fake_rasa,
                                                                        poll_seconds=1))
    shift = build(queue, fake_rasa.trackers, make_agent)
    history(queue)
    yield console, shift
    console.stop()


def test_every_page_at_both_sizes(shift_console, tmp_path) -> None:
    """Queue, conversation, live view, reports, accounts: fit the screen; screenshots."""
    console, shift = shift_console
    pages = [("cola", "/", "carla"), ("conversacion", f"/tickets/{shift.in_progress}", "carla"),
             ("supervision", "/supervision", "sara"), ("informes", "/reports", "sara"),
             ("cuentas", "/accounts", "sara")]
    for size, phone in ((DESKTOP, False), (PHONE, True)):
        with chromium(phone_screen=phone) as driver:
            viewport(driver, size, phone)
            who = None
            for name, path, user in pages:
                if user != who:
                    log_in(driver, console, user)
                    who = user
                driver.get(console.url + path)
                wait_until(lambda: driver.execute_script(
                    "return document.readyState") == "complete", what="page loaded")
                time.sleep(1.2)  # one poll: alerts and live parts filled in
                assert no_sideways_scrolling(driver), f"{name} scrolls sideways at {size}"
                screenshot(driver, f"{name}-{size[0]}x{size[1]}", tmp_path)


def test_the_reply_box_is_in_view_at_1280x900(shift_console) -> None:
    console, shift = shift_console
    with chromium() as driver:
        for size in (DESKTOP, (1280, 757)):  # the window, and the viewport a 900-px window has
            viewport(driver, size, False)
            log_in(driver, console, "carla")
            driver.get(f"{console.url}/tickets/{shift.in_progress}")
            wait_until(lambda: driver.find_elements("id", "reply-submit"), what="reply form")
            bottoms = driver.execute_script(
                "return ['reply-text', 'reply-submit', 'transcript'].map(function (id) {"
                "  var r = document.getElementById(id).getBoundingClientRect();"
                "  return [r.top, r.bottom]; }).concat([[window.innerHeight, window.scrollY]]);")
            height = bottoms[-1][0]
            assert bottoms[-1][1] == 0
            for top, bottom in bottoms[:2]:
                assert 0 <= top and bottom <= height, (size, bottoms)
            assert bottoms[2][1] - bottoms[2][0] > 200  # and the transcript keeps room
            text = by_id(driver, "transcript").text
            assert "mi pareja me está pegando" in text  # before «salir»
            assert "Tocó el botón «Sí, puedo»" in text and "/afirmar" not in text
            assert "«Sí, puedo»" in by_id(driver, "safe-contact").text
            assert not by_id(driver, "send-goodbye").is_selected()  # she left with «salir»


def test_the_emergency_banner_is_small_on_a_phone_and_can_be_dismissed(
    shift_console, queue
) -> None:
    console, shift = shift_console
    with chromium(phone_screen=True) as driver:
        viewport(driver, PHONE, True)
        log_in(driver, console, "carla")
        driver.get(f"{console.url}/tickets/{shift.in_progress}")
        banner = by_id(driver, "emergency-banner")
        wait_until(banner.is_displayed, what="the emergency banner")
        height = banner.size["height"]
        assert height <= 0.06 * PHONE[1], height  # at most 6 % of the screen
        by_id(driver, "emergency-dismiss").click()
        assert not banner.is_displayed()
        time.sleep(2.5)  # two polls: the same emergency does not bring it back
        assert not banner.is_displayed()
        queue.open_ticket("56900000099", "emergency", EMERGENCY, "emergencia_ahora")
        wait_until(banner.is_displayed, what="the banner for a new emergency")
        assert no_sideways_scrolling(driver)


def measure_sla_alert(driver, console: RunningConsole, queue, seconds: float) -> dict:  # noqa: ANN001
    """Open an emergency that breaches ``seconds`` from now; how long after the breach the
    supervisor's alert shows (from the page's own clock, and as seen from outside)."""
    ticket = queue.open_ticket(f"569{time.time_ns() % 10**8:08d}", "emergency", EMERGENCY,
                               "emergencia_ahora")
    created = queue.get(ticket.id).created_at.replace(tzinfo=timezone.utc).timestamp()
    breach_ms = (created + seconds) * 1000
    banner = by_id(driver, "sla-banner")
    wait_until(lambda: banner.is_displayed() and ticket_in(driver, ticket.id),
               timeout=seconds + 15, what="the SLA alert")
    seen_ms = time.time() * 1000
    shown_ms = float(banner.get_attribute("data-shown-at"))
    return {"ticket": ticket.id, "page_ms": shown_ms - breach_ms, "outside_ms": seen_ms - breach_ms}


def ticket_in(driver, ticket_id: int) -> bool:  # noqa: ANN001
    row = driver.find_elements("id", f"sup-ticket-{ticket_id}")
    return bool(row) and "late" in (row[0].get_attribute("class") or "")


def test_supervisor_is_alerted_at_an_sla_breach(queue, fake_rasa: FakeRasa, tmp_path) -> None:
    limit_seconds = 6
    sla = SlaPolicy({Priority.EMERGENCY: limit_seconds / 60, Priority.HIGH_RISK: 10,
                     Priority.RISK: 30, Priority.PERSON: None})
    console = start_console(queue, fake_rasa, settings=console_settings(fake_rasa, sla=sla))
    try:
        make_agent(queue, "sara", "supervisor")
        with chromium() as driver:
            viewport(driver, DESKTOP, False)
            log_in(driver, console, "sara")
            driver.get(f"{console.url}/supervision")
            banner = by_id(driver, "sla-banner")
            assert not banner.is_displayed()
            figures = measure_sla_alert(driver, console, queue, limit_seconds)
            assert figures["page_ms"] >= 0, figures  # never before the breach
            assert "FUERA DE PLAZO" in banner.text
            record = Path(os.environ.get("CONSOLE_SCREENS_DIR") or tmp_path) / "sla-alert.json"
            record.write_text(json.dumps(figures), encoding="utf-8")
            print(f"SLA breach → alert on screen: {figures}")
            # the alert goes once the case is taken
            queue.claim(figures["ticket"], make_agent(queue, "ana"))
            wait_until(lambda: not banner.is_displayed(), timeout=10, what="alert cleared")
    finally:
        console.stop()


def test_reports_page_in_the_browser(shift_console) -> None:
    console, _shift = shift_console
    with chromium() as driver:
        viewport(driver, DESKTOP, False)
        log_in(driver, console, "sara")
        driver.get(f"{console.url}/reports")
        chart = by_id(driver, "report-chart")
        wait_until(lambda: driver.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth", chart) == 1000,
            what="the chart image")
        rows = driver.find_elements("css selector", "#report-table tbody tr")
        assert len(rows) == 12
        by_id(driver, "period-mes").click()
        wait_until(lambda: "periodo=mes" in driver.current_url, what="monthly report")
        assert by_id(driver, "period-mes").get_attribute("aria-current") == "page"
        href = by_id(driver, "export-csv").get_attribute("href")
        assert href.endswith("/reports.csv?periodo=mes")


def test_account_management_in_the_browser(queue, fake_rasa: FakeRasa) -> None:
    console = start_console(queue, fake_rasa)
    try:
        make_agent(queue, "sara", "supervisor")
        with chromium() as driver:
            viewport(driver, DESKTOP, False)
            log_in(driver, console, "sara")
            driver.get(f"{console.url}/accounts")
            by_id(driver, "new-username").send_keys("nueva.especialista")
            by_id(driver, "create-submit").click()
            wait_until(lambda: driver.find_elements("id", "one-time-code"), what="the code")
            code = by_id(driver, "one-time-code").text
            driver.refresh()  # a reload must not show it again
            driver.get(f"{console.url}/accounts")
            assert code not in driver.page_source
            agent = queue.agent_by_username("nueva.especialista")
            assert f'id="account-{agent.id}"' in driver.page_source

            log_in(driver, console, "nueva.especialista", code)
            assert driver.current_url.endswith("/account/password")
            by_id(driver, "new").send_keys("mi-clave-secreta-1")
            by_id(driver, "repeat").send_keys("mi-clave-secreta-1")
            by_id(driver, "password-submit").click()
            wait_until(lambda: driver.find_elements("id", "waiting-list"), what="the queue")
            assert "Contraseña cambiada" in by_id(driver, "flash").text

            log_in(driver, console, "sara")
            driver.get(f"{console.url}/accounts")
            by_id(driver, f"deactivate-{agent.id}").click()
            wait_until(lambda: "account_deactivated" in driver.current_url, what="deactivated")
            assert "Desactivada" in by_id(driver, f"account-{agent.id}").text
            driver.delete_all_cookies()
            driver.get(console.url + "/login")
            by_id(driver, "username").send_keys("nueva.especialista")
            by_id(driver, "password").send_keys("mi-clave-secreta-1")
            by_id(driver, "login-submit").click()
            wait_until(lambda: driver.find_elements("id", "login-error"), what="refused")
    finally:
        console.stop()
