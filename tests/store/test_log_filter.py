"""The log scrubber (store/log_filter.py): no phone number, no message text, no tracker body
in any log line, in the forms Rasa, rasa-sdk and SQLAlchemy print them."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from store import log_filter
from store.log_filter import LogScrubber, scrub

ROOT = Path(__file__).resolve().parents[2]
HER_TEXT = "mi pololo me quito el celular y me pego"
NUMBER = "56987654321"


def assert_clean(text: str) -> None:
    assert NUMBER not in text
    for word in ("pololo", "celular", "quito"):
        assert word not in text, text


@pytest.mark.parametrize("number", ["56987654321", "+56987654321", "+56 9 8765 4321",
                                    "569-8765-4321", "5698765.4321", "987654321", "12345678"])
def test_phone_numbers_and_long_digit_runs(number: str) -> None:
    assert scrub(f"conversation {number} failed") == "conversation <number> failed"


def test_ids_that_are_not_numbers_survive() -> None:
    line = "ticket 42 conversation 3fa2b1c4d5e6 uuid 0123456789abcdef0123456789abcdef port 5005"
    assert scrub(line) == line


def test_the_tracker_an_action_server_500_echoes_is_cut() -> None:
    """rasa-sdk answers a raising action with the whole request; Rasa logs that answer."""
    body = json.dumps({"error": f"bad {HER_TEXT}", "request_body": {
        "sender_id": NUMBER, "tracker": {"latest_message": {"text": HER_TEXT}}}})
    line = (f"Failed to execute custom action 'action_x': 500, Internal Server Error, "
            f"body='{body.encode()!r}'")
    scrubbed = scrub(line)
    assert_clean(scrubbed)
    assert scrubbed.startswith("Failed to execute custom action 'action_x': 500")


@pytest.mark.parametrize("line", [
    f'{{"event": "processor.message.parse", "text": "{HER_TEXT}", "level": "debug"}}',
    f"processor.message.parse text='{HER_TEXT}' parse_data_entities=[]",
    f"processor.message.parse parse_data_text={HER_TEXT} parse_data_intent={{}}",
    f"processor.message.parse parse_data_entities=[] parse_data_text={HER_TEXT}",
    f"Received user message '{HER_TEXT}' with intent '{{}}' and entities '[]'",
    f"{{'text': '{HER_TEXT}', 'intent': {{'name': 'violencia_fisica'}}}}",
    f"(sqlite3.OperationalError) database is locked [SQL: INSERT INTO inbox VALUES (?, ?)] "
    f"[parameters: ('{HER_TEXT}', '{NUMBER}')]",
    f"GET /conversations/{NUMBER}/tracker?token=x HTTP/1.1",
    f'UserMessage(text="{HER_TEXT}", sender_id="{NUMBER}")',
])
def test_message_text_in_the_forms_libraries_log_it(line: str) -> None:
    assert_clean(scrub(line))


def test_debug_records_lose_every_quoted_string() -> None:
    line = f"Predicted next action 'action_listen' for \"{HER_TEXT}\""
    assert_clean(scrub(line, quoted=True))
    assert "'action_listen'" in scrub(line)  # at INFO and above, quotes stay


@pytest.fixture()
def captured():
    """A logger whose records go through the installed scrubber into a string."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger(f"test_log_filter.{id(stream)}")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    log_filter.install_record_factory()
    try:
        yield logger, stream
    finally:
        log_filter.uninstall_record_factory()
        logger.removeHandler(handler)


def test_installed_every_record_is_scrubbed_with_its_traceback(captured) -> None:
    logger, stream = captured
    logger.info("turn of %s: %s", NUMBER, {"text": HER_TEXT})
    try:
        raise ValueError(f"cannot read {HER_TEXT!r} from {NUMBER}")
    except ValueError:
        logger.exception("turn failed for %s", NUMBER)
    logger.debug("Received user message '%s' with intent", HER_TEXT)
    output = stream.getvalue()
    assert_clean(output)
    assert "turn failed for <number>" in output and "ValueError" in output


def test_extra_fields_are_scrubbed_by_the_filter() -> None:
    record = logging.LogRecord("sanic.access", logging.INFO, __file__, 1, "", (), None)
    record.request = f"GET /conversations/{NUMBER}/tracker"
    LogScrubber().filter(record)
    log_filter.uninstall_record_factory()
    assert record.request == "GET /conversations/<number>/tracker"


def test_logging_yml_keeps_scrubbing_after_coloredlogs_replaces_the_handlers() -> None:
    """What `rasa run --logging-config-file logging.yml` does: dictConfig, then coloredlogs."""
    script = f"""
import logging, logging.config, coloredlogs, yaml
logging.config.dictConfig(yaml.safe_load(open("logging.yml")))
coloredlogs.install(level="DEBUG", fmt="%(levelname)s %(message)s")
log = logging.getLogger("rasa.core.processor")
log.debug("Received user message '{HER_TEXT}' with intent")
log.error("action failed for {NUMBER}")
print("done")
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "action failed for <number>" in output and "Received user message" in output
    assert_clean(output)
