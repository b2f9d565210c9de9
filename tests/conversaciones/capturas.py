"""Screenshots of the phone page (simulator) along the risk path, in headless Chromium.

    python -m tests.conversaciones.capturas [carpeta]   (default: results/capturas)

Starts the whole service, plays the risk screening as a person would on the phone page
(typing and tapping buttons) and saves one PNG per stage, to be looked at.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from stack import Stack, StackPorts
from tests.browser import chromium

ROOT = Path(__file__).resolve().parents[2]


def _bubbles(driver) -> int:
    return len(driver.find_elements(By.CSS_SELECTOR, "li.msg"))


def _wait_for_more(driver, before: int, count: int = 1) -> None:
    WebDriverWait(driver, 30).until(lambda d: _bubbles(d) >= before + count)
    time.sleep(0.8)


def _write(driver, text: str, replies: int) -> None:
    before = _bubbles(driver)
    driver.find_element(By.CSS_SELECTOR, "[data-role=message-input]").send_keys(text)
    driver.find_element(By.CSS_SELECTOR, "[data-role=send]").click()
    _wait_for_more(driver, before, 1 + replies)


def _tap(driver, title: str, replies: int) -> None:
    before = _bubbles(driver)
    buttons = driver.find_elements(By.CSS_SELECTOR, f"[data-role=reply-button][data-title='{title}']")
    buttons[-1].click()
    _wait_for_more(driver, before, 1 + replies)


def capture(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    with Stack(ports=StackPorts.free(), simulator=True) as stack, chromium(phone_screen=True) as driver:
        driver.get(stack.simulator_url)  # the page opens with one phone ready
        WebDriverWait(driver, 10).until(
            ec.presence_of_element_located((By.CSS_SELECTOR, "[data-role=message-input]")))
        steps = [
            ("1-relato", lambda: _write(driver, "mi pololo me pego ayer en la cara", 3)),
            ("2-primera-pregunta", lambda: _tap(driver, "Sí, responder", 1)),
            ("3-segunda-pregunta", lambda: _tap(driver, "Sí", 1)),
            ("4-tercera-pregunta", lambda: _write(driver, "no", 1)),
            ("5-cuarta-pregunta", lambda: _tap(driver, "Saltar", 1)),
            ("6-quinta-pregunta", lambda: _tap(driver, "No", 1)),
            ("7-resultado", lambda: _write(driver, "si", 2)),
            ("8-derivacion", lambda: _tap(driver, "Sí, es seguro", 1)),
        ]
        for name, act in steps:
            try:
                act()
            except Exception:
                driver.save_screenshot(str(folder / f"error-{name}.png"))
                raise
            path = folder / f"riesgo-{name}.png"
            driver.save_screenshot(str(path))
            saved.append(path)
    return saved


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "results" / "capturas"
    for png in capture(target):
        print(png)
