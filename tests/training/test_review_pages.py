"""The review pages in the console: who may see them, labelling, discarding, keyboard.

The console (console/app.py registers the review blueprint) with its own review queue and
labelled-data folder; accounts are written directly in the agents table.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy.orm import Session

from console.app import create_app
from console.config import Settings
from console.security import hash_password
from handoff.models import Agent
from handoff.queue import HandoffQueue
from store.db import make_engine
from tests.browser import chromium, requires_chromium
from tests.console.conftest import PASSWORD, RunningConsole, csrf_from, login
from training.items import ReviewReason, ReviewStore
from training.labelling import ReviewedWriter

ROOT = Path(__file__).resolve().parents[2]
SCREENS = Path(os.environ.get("REVIEW_SCREENS_DIR") or ROOT / "results" / "pantallas")
TEXT = "el weon de mi ex <nombre> me tiene chato, me escribe a cada rato y no se si es peligroso"


def add_agent(queue: HandoffQueue, username: str, role: str) -> None:
    with Session(queue.engine) as session:
        session.add(Agent(username=username, password_hash=hash_password(PASSWORD, n=2**10),
                          role=role, active=True))
        session.commit()


@pytest.fixture
def site(tmp_path: Path, review: ReviewStore) -> Iterator[tuple[RunningConsole, Path]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'helpline.db'}")
    queue = HandoffQueue(engine)
    for username, role in (("tere", "trainer"), ("sonia", "supervisor"), ("ana", "specialist")):
        add_agent(queue, username, role)
    reviewed = tmp_path / "revisadas"
    app = create_app(queue=queue, settings=Settings(rasa_url="http://127.0.0.1:9",
                                                    rasa_token="x", use_channel_window=False,
                                                    poll_seconds=30, totp_supervisors=False),
                     review_store=review, review_writer=ReviewedWriter(directory=reviewed))
    running = RunningConsole(app, queue).start()
    yield running, reviewed
    running.stop()
    engine.dispose()


def add_item(review: ReviewStore, text: str = TEXT, kind: str = "acoso_expareja",
             level: str = "risk") -> str:
    reading = {"kind": kind, "level": level, "handoff": level == "risk", "confidence": 0.44,
               "immediacy": "pasado" if level == "risk" else "ninguna", "wants_person": False,
               "promoted_from": None}
    others = ["violencia_psicologica", "amenazas"] if level == "risk" else ["info_centros",
                                                                           "saludar"]
    ranking = [(kind, 0.44), (others[0], 0.31), (others[1], 0.12)]
    return review.add(text, [ReviewReason.LOW_CONFIDENCE], reading, ranking)


def test_only_trainers_and_supervisors_see_the_queue(site, review: ReviewStore) -> None:
    console, _ = site
    item = add_item(review)
    specialist = login(console, "ana")
    for path in ("/revision", f"/revision/{item}"):
        response = specialist.get(path)
        assert response.status_code == 403
        assert TEXT not in response.text
    anonymous = httpx.Client(base_url=console.url, follow_redirects=False)
    assert anonymous.get("/revision").status_code == 303  # to the login page
    for username in ("tere", "sonia"):
        page = login(console, username).get("/revision")
        assert page.status_code == 200 and "me tiene chato" in page.text


def test_label_writes_yaml_and_removes_the_item(site, review: ReviewStore) -> None:
    console, reviewed = site
    item = add_item(review)
    trainer = login(console, "tere")
    first = trainer.get("/revision/siguiente")
    assert first.headers["location"] == f"/revision/{item}"
    page = trainer.get(f"/revision/{item}")
    assert "acoso_expareja" in page.text and "un ex la sigue" in page.text  # with descriptions
    no_token = trainer.post(f"/revision/{item}/etiquetar", data={"intent": "amenazas"})
    assert no_token.status_code == 403
    saved = trainer.post(f"/revision/{item}/etiquetar", data={
        "csrf_token": csrf_from(page.text), "intent": "acoso_expareja", "inmediatez": "pasado",
        "pide_persona": "1", "texto": TEXT})
    assert saved.status_code == 303 and saved.headers["location"].endswith("msg=guardado")
    [written] = list(reviewed.glob("*.yml"))
    block = yaml.safe_load(written.read_text(encoding="utf-8"))["nlu"][0]
    assert block["intent"] == "acoso_expareja"
    assert block["metadata"] == {"inmediatez": "pasado", "pide_persona": True}
    assert TEXT in block["examples"]
    assert review.count() == 0
    entries = console.queue.audit_entries(limit=10)
    assert any(e.action == "review_labelled" for e in entries)


def test_a_refused_label_keeps_the_item_and_says_why(site, review: ReviewStore) -> None:
    console, reviewed = site
    item = add_item(review, "me esta pegando ahora")  # in data/nlu as emergencia_ahora
    trainer = login(console, "sonia")
    page = trainer.get(f"/revision/{item}")
    refused = trainer.post(f"/revision/{item}/etiquetar", data={
        "csrf_token": csrf_from(page.text), "intent": "violencia_fisica", "inmediatez": "pasado"})
    assert refused.status_code == 400
    assert "No se guardó" in refused.text and "emergencia.yml" in refused.text
    assert review.get(item) is not None and not list(reviewed.glob("*.yml"))
    discarded = trainer.post(f"/revision/{item}/descartar",
                             data={"csrf_token": csrf_from(page.text)})
    assert discarded.headers["location"].endswith("msg=descartado")
    assert review.count() == 0


@pytest.mark.browser
@requires_chromium
def test_keyboard_labelling_in_chromium(site, review: ReviewStore) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    console, reviewed = site
    add_item(review)
    add_item(review, "hola, tengo una duda, es gratis esto? 🙏", "info_servicio", "info")
    SCREENS.mkdir(parents=True, exist_ok=True)
    with chromium() as driver:
        driver.get(f"{console.url}/login")
        driver.find_element(By.ID, "username").send_keys("tere")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.ID, "login-submit").click()
        _wait(lambda: not driver.current_url.endswith("/login"))
        driver.get(f"{console.url}/revision")
        _wait(lambda: driver.find_elements(By.ID, "empezar"))
        driver.save_screenshot(str(SCREENS / "revision_lista.png"))
        body = driver.find_element(By.TAG_NAME, "body")
        body.send_keys(Keys.ENTER)  # «Empezar a revisar»
        _wait(lambda: driver.find_elements(By.ID, "etiquetar"))
        first_text = driver.find_element(By.ID, "texto-original").text
        body = driver.find_element(By.TAG_NAME, "body")
        body.send_keys("2")  # second suggestion
        body.send_keys("a")  # immediacy: now
        body.send_keys("s")  # asks for a person
        chosen = driver.find_element(By.CSS_SELECTOR, ".sugerencias input[data-tecla='2']")
        assert chosen.is_selected()
        driver.save_screenshot(str(SCREENS / "revision_item.png"))
        body.send_keys(Keys.ENTER)
        _wait(lambda: "Guardado" in driver.page_source)
        assert driver.find_element(By.ID, "texto-original").text != first_text
        driver.find_element(By.TAG_NAME, "body").send_keys("d")
        _wait(lambda: "Mensaje descartado" in driver.page_source)
        driver.save_screenshot(str(SCREENS / "revision_vacia.png"))
    [written] = list(reviewed.glob("*.yml"))
    block = yaml.safe_load(written.read_text(encoding="utf-8"))["nlu"][0]
    assert block["metadata"] == {"inmediatez": "ahora", "pide_persona": True}
    assert block["intent"] in ("violencia_psicologica", "info_centros")  # the 2nd suggestion
    assert review.count() == 0


def _wait(predicate, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in the browser")
