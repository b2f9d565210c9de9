"""Keep her words and her number out of every log line, whoever logs it.

``scrub(text)`` removes from one log text:
- phone numbers: Chilean mobiles (``+56 9 1234 5678`` in any spacing) and any run of 8 or
  more digits (a WhatsApp id is her number);
- message text and tracker bodies in the forms Rasa, rasa-sdk and SQLAlchemy print them:
  the value of keys such as ``text``, ``message``, ``sender_id``, ``tracker`` or
  ``request_body`` (JSON, Python dict reprs, structlog's ``key=value``), everything after
  ``body=`` / ``request_body`` / ``[parameters:`` (an action server's 500 answer echoes the
  whole tracker), and Rasa's «Received user message '…'».
- At DEBUG level, every quoted string of a record (Rasa's debug lines quote message text);
  at every level, the quoted strings of an exception's message (not of the source lines).

``install()`` applies it to every record a process creates, through the log record factory
(it survives Rasa and coloredlogs replacing the root handlers), and adds ``LogScrubber`` to
the root handlers (for ``extra`` fields such as Sanic's access log, added after the
factory). ``LogScrubber`` is also a ``logging.Filter`` for ``logging.yml``: creating it
installs the factory too, so ``rasa run --logging-config-file logging.yml`` is enough.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable

REDACTED = "<redacted>"
NUMBER = "<number>"

_CHILEAN_MOBILE = re.compile(r"\+?\b56[\s.-]?9(?:[\s.-]?\d){8}\b")
_DIGIT_RUN = re.compile(r"\d{8,}")
_TOKEN = re.compile(r"[0-9A-Za-z]+")
_HEX_ID = re.compile(r"(?=[0-9a-f]*[a-f])[0-9a-f]+")
_HEX_ID_LENGTHS = frozenset({12, 16, 24, 32, 40, 64})  # log ids, uuids, digests: not numbers
# keys whose value is her words, her number or a whole tracker
# (also with a prefix: structlog's ``parse_data_text=``, ``tracker_latest_message=``)
_KEYS = ("text|message|body|request_body|tracker|latest_message|events|user_message|"
         "parse_data|sender_id|sender|recipient_id|recipient|wa_id|from|to|phone|"
         "slots|slot_values|entities|caption|title|name|address|metadata|value")
_KEY = r"""["']?\b(?:\w+_)?(?:""" + _KEYS + r""")["']?"""
_QUOTED_VALUE = r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'"""
# ``key: value`` / ``"key": value``: a quoted value or one token
_KEY_COLON = re.compile(r"(?P<key>" + _KEY + r"\s*:\s*)(?P<value>" + _QUOTED_VALUE
                        + r"""|[^\s,}\]]+)""", re.IGNORECASE)
# ``key=value``: a quoted value, or everything up to the next ``other_key=`` (structlog's
# console renderer prints text unquoted, spaces included)
_KEY_EQUALS = re.compile(r"(?P<key>" + _KEY + r"=)(?P<value>" + _QUOTED_VALUE
                         + r"|(?:(?!\s\w+=)[^\n])+)", re.IGNORECASE)
# everything after these markers is a request or statement body: cut to the end of the line
_BODY_TAIL = re.compile(
    r"""(?P<marker>\bbody=|["']?request_body["']?\s*[:=]\s*|\[parameters:\s*).*""",
    re.IGNORECASE)
_RECEIVED = re.compile(r"(Received user message ).*?( with intent|$)", re.MULTILINE)
_QUOTED = re.compile(r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'""")


def scrub(text: str, quoted: bool = False, code: bool = False) -> str:
    """``text`` without phone numbers, message text or tracker bodies (see the module).
    ``code``: a source line of a traceback, where only numbers are removed."""
    if not text:
        return text
    if not code:
        text = _BODY_TAIL.sub(lambda m: m.group("marker") + REDACTED, text)
        text = _RECEIVED.sub(lambda m: m.group(1) + REDACTED + m.group(2), text)
        text = _KEY_COLON.sub(lambda m: m.group("key") + REDACTED, text)
        text = _KEY_EQUALS.sub(lambda m: m.group("key") + REDACTED, text)
    if quoted:
        text = _QUOTED.sub(REDACTED, text)
    text = _CHILEAN_MOBILE.sub(NUMBER, text)
    return _TOKEN.sub(_without_digit_runs, text)


def _without_digit_runs(match: re.Match[str]) -> str:
    token = match.group(0)
    if len(token) in _HEX_ID_LENGTHS and _HEX_ID.fullmatch(token):
        return token
    return _DIGIT_RUN.sub(NUMBER, token)


def scrub_traceback(text: str, quoted: bool = False) -> str:
    """A formatted traceback: the exception lines (not indented: ``ValueError: …``) also
    lose their quoted strings; the indented frame and source lines are code and keep them."""
    lines = [scrub(line, quoted=False, code=True) if line[:1].isspace()
             else scrub(line, quoted=True) for line in text.split("\n")]
    return "\n".join(lines)


def _safe_message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string must not lose the record
        return f"{record.msg} (unformattable arguments)"


_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime"}


def scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    """Scrub a record in place (message, arguments, traceback, stack, ``extra`` strings)."""
    if getattr(record, "_scrubbed", False):
        return record
    quoted = record.levelno <= logging.DEBUG
    record.msg = scrub(_safe_message(record), quoted)
    record.args = ()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = scrub_traceback(record.exc_text, quoted)
    if record.stack_info:
        record.stack_info = scrub(record.stack_info, quoted)
    record._scrubbed = True
    return record


def scrub_extras(record: logging.LogRecord) -> None:
    """Scrub the string fields given with ``extra=`` (added after the record factory)."""
    for key, value in list(record.__dict__.items()):
        if key not in _STANDARD and not key.startswith("_") and isinstance(value, str):
            record.__dict__[key] = scrub(value)


class LogScrubber(logging.Filter):
    """A filter that scrubs every record it sees; never drops one."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        install_record_factory()

    def filter(self, record: logging.LogRecord) -> bool:
        scrub_record(record)
        scrub_extras(record)
        return True


_lock = threading.Lock()
_previous_factory: Callable[..., logging.LogRecord] | None = None


def install_record_factory() -> None:
    """Every record this process creates from now on is scrubbed at creation."""
    global _previous_factory
    with _lock:
        if _previous_factory is not None:
            return
        previous = _previous_factory = logging.getLogRecordFactory()

        def factory(*args: object, **kwargs: object) -> logging.LogRecord:
            return scrub_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)


def uninstall_record_factory() -> None:
    """Back to the factory before ``install_record_factory`` (tests)."""
    global _previous_factory
    with _lock:
        if _previous_factory is not None:
            logging.setLogRecordFactory(_previous_factory)
            _previous_factory = None


def install() -> None:
    """The factory, and a ``LogScrubber`` on each root handler that lacks one."""
    install_record_factory()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, LogScrubber) for f in handler.filters):
            handler.addFilter(LogScrubber())
