"""Headless Chromium (Debian's chromium + chromedriver) for the browser tests, started the same
way everywhere: no downloaded browser, no network chatter, a fresh profile each time."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
MISSING_REASON = ("needs Debian's chromium and chromium-driver at /usr/bin "
                  "(make browser-deps, or apt-get install -y chromium chromium-driver)")
requires_chromium = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason=MISSING_REASON)
PHONE_SCREEN = {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2}}


@contextmanager
def chromium(phone_screen: bool = False) -> Iterator[object]:
    """One headless browser; ``phone_screen`` emulates a 390×844 phone."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run",
                     "--window-size=1280,900", f"--user-data-dir={profile}"):
        options.add_argument(argument)
    if phone_screen:
        options.add_experimental_option("mobileEmulation", PHONE_SCREEN)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@contextmanager
def chromium_pool() -> Iterator[Callable[..., object]]:
    """Start several browsers on demand (``start(phone_screen=False)``); all quit at the end."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        yield lambda phone_screen=False: stack.enter_context(chromium(phone_screen))
