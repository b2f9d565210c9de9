"""No open doors, on the real stack: the action server wants its secret, Rasa refuses a 2 MB
body before reading it, and after a conversation, an action that raises and a "database is
locked", no log file of the run holds her words or her number."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from actions.server import TOKEN_HEADER
from simulator import webhooks as wh
from stack import Stack, StackPorts
from tests.integration.conftest import MODEL, Phone, body_of

pytestmark = pytest.mark.integration

NUMBER = "56961234987"  # made up; no other test uses it
WORD = "zorzalito"  # a word nobody else writes: any leak of her text shows it
TEXT = f"mi pololo {WORD} me quito el celular"
SECOND = f"{WORD} me sigue amenazando"
LOCKED_TEXT = f"{WORD} escribe mientras la base esta ocupada"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Stack:
    if not MODEL.exists():
        pytest.fail("no trained model: run `make train`")
    env_token = os.environ.pop("WHATSAPP_ACCESS_TOKEN", None)
    state = tmp_path_factory.mktemp("puertas")
    # a services "file" that is a folder: action_info_centros raises when Rasa calls it
    (state / "servicios_rotos").mkdir()
    stack = Stack(ports=StackPorts.free(), simulator=True, console=False, state_dir=state,
                  extra_env={"SERVICIOS_PATH": str(state / "servicios_rotos")})
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        if env_token is not None:
            os.environ["WHATSAPP_ACCESS_TOKEN"] = env_token


def signed_post(stack: Stack, body: bytes, timeout: float = 60) -> httpx.Response:
    return httpx.post(stack.webhook_url, content=body, timeout=timeout,
                      headers={"Content-Type": "application/json",
                               wh.SIGNATURE_HEADER: wh.sign(body)})


def action_call() -> dict:
    """A malformed call (her text where a parse result belongs): the action raises on it."""
    return {"next_action": "action_info_centros", "sender_id": NUMBER, "version": "3.6.21",
            "tracker": {"sender_id": NUMBER, "latest_message": TEXT}, "domain": {}}


def test_the_action_server_wants_the_secret_and_answers_500_without_her_tracker(run) -> None:
    url = f"{run.actions_url}/webhook"
    assert httpx.get(f"{run.actions_url}/health", timeout=10).status_code == 200
    assert httpx.post(url, json=action_call(), timeout=10).status_code == 401
    assert httpx.post(url, json=action_call(), timeout=10,
                      headers={TOKEN_HEADER: "not-the-token"}).status_code == 401
    assert httpx.get(f"{run.actions_url}/actions", timeout=10).status_code == 401
    failed = httpx.post(url, json=action_call(), timeout=10,
                        headers={TOKEN_HEADER: run.action_token})
    assert failed.status_code == 500
    assert WORD not in failed.text and NUMBER not in failed.text


def test_a_conversation_goes_through_rasa_with_the_secret(run) -> None:
    phone = Phone(run, NUMBER)
    phone.write(TEXT)
    answers = phone.replies(count=1, timeout=60)
    assert answers and body_of(answers[0])
    phone.write(SECOND)
    assert phone.replies(count=1, timeout=60)
    tracker = httpx.get(f"{run.rasa_url}/conversations/{NUMBER}/tracker",
                        params={"token": run.api_token}, timeout=30)
    assert tracker.status_code == 200 and TEXT in tracker.text  # the API still works


def test_an_action_that_raises_under_rasa(run) -> None:
    """Her shared location (its name and address are her words) makes Rasa call
    action_info_centros, which raises: Rasa logs the failure with the action server's
    answer, which must not be her tracker."""
    phone = Phone(run, NUMBER)
    phone._send(type="location", latitude=-38.7359, longitude=-72.5904,
                name=f"casa de {WORD}", address=f"pasaje {WORD} 1234")
    rasa_log = run.log_dir / "rasa.log"
    deadline = time.monotonic() + 60
    while "action_info_centros" not in rasa_log.read_text("utf-8", "replace"):
        assert time.monotonic() < deadline, "Rasa did not log the failed action"
        time.sleep(0.5)


def test_rasa_refuses_two_megabytes_and_takes_a_normal_webhook(run) -> None:
    huge = wh.encode(wh.update(messages=[wh.text_message(NUMBER, "x" * 2_000_000)]))
    normal = wh.encode(wh.update(messages=[wh.text_message(NUMBER, "hola")]))
    assert signed_post(run, huge).status_code == 413
    assert signed_post(run, normal).status_code == 200


def test_database_is_locked_is_logged_without_her_words(run) -> None:
    """The webhook cannot store while another process holds the database: 503 (Meta
    retries), and the error is logged."""
    database = Path(run.env()["DATABASE_URL"].split("///", 1)[1])
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(database, timeout=60)
        connection.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(90)
        connection.rollback()
        connection.close()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert locked.wait(60)
    body = wh.encode(wh.update(messages=[wh.text_message(NUMBER, LOCKED_TEXT)]))
    try:
        answer = signed_post(run, body, timeout=90)
    finally:
        release.set()
        holder.join(30)
    assert answer.status_code == 503
    assert signed_post(run, body).status_code == 200  # Meta's retry


def test_an_emergency_opens_her_case_in_the_queue(run) -> None:
    """So that the queue holds her number (sealed) for the raw check at the end."""
    from handoff.queue import HandoffQueue
    from store.db import make_engine

    Phone(run, NUMBER).write("ayuda me esta pegando ahora")
    with run.data_key_here():
        queue = HandoffQueue(make_engine(run.env()["DATABASE_URL"]))
        deadline = time.monotonic() + 60
        while queue.open_ticket_for(NUMBER) is None:
            assert time.monotonic() < deadline, "no ticket for her emergency"
            time.sleep(0.5)
        assert queue.open_ticket_for(NUMBER).level == "emergency"


def test_no_log_of_the_run_holds_her_words_or_her_number(run) -> None:
    time.sleep(2)  # the last turns finish
    run.stop()  # every process flushes and closes its log
    logs = sorted(p for p in run.log_dir.iterdir() if p.is_file())
    assert {"rasa.log", "actions.log", "simulator.log"} <= {p.name for p in logs}
    everything = {p.name: p.read_bytes().decode("utf-8", "replace") for p in logs}
    # the errors this module provoked did reach the logs (so the grep below means something)
    assert "action action_info_centros raised IsADirectoryError" in everything["actions.log"]
    assert "Encountered an exception while running action 'action_info_centros'" in \
        everything["rasa.log"]
    assert "database is locked" in everything["rasa.log"]
    hits = {name: [needle for needle in (NUMBER, WORD, TEXT, SECOND, LOCKED_TEXT)
                   if needle in text] for name, text in everything.items()}
    assert {name: found for name, found in hits.items() if found} == {}


def test_a_copy_of_every_database_of_the_run_shows_neither_her_words_nor_her_number(run) -> None:
    """After the run (stopped by the test above): every table of every database file in the
    run's folder, and the files' bytes, read as a thief with a copy of var/ would."""
    from tests.store.raw import leaks

    databases = sorted(run.state_dir.glob("*.db"))
    assert {"tracker.db", "helpline.db"} <= {p.name for p in databases}
    found = {p.name: leaks(f"sqlite:///{p}", [NUMBER, WORD, TEXT, SECOND, "me esta pegando"])
             for p in databases}
    assert {name: hits for name, hits in found.items() if hits} == {}
