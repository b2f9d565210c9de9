"""``python -m stack.quiet MODULE [ARGS…]``: run MODULE as ``__main__`` without Python's
deprecation warnings, and with every log record scrubbed of phone numbers and message text
(``store/log_filter.py``).

Rasa's dependencies print hundreds of DeprecationWarning/FutureWarning lines at each start
(``PYTHONWARNINGS`` alone is not enough: Sanic turns them back on when it is imported). The
stack starts every Python process (Rasa, the action server, the console, the simulator)
through this module, which drops those categories where every warning is shown; other
warnings still reach the log.

For Rasa itself it also removes costs that buy nothing (``stack/rasa_tuning.py``);
``HELPLINE_RASA_TUNING=0`` runs Rasa exactly as released, to compare or to rule it out.
"""

from __future__ import annotations

import os
import runpy
import sys
import warnings

from store import log_filter

QUIET = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
_show = warnings.showwarning


def _show_unless_quiet(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, QUIET):
        return
    _show(message, category, filename, lineno, file, line)


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m stack.quiet MODULE [ARGS…]")
    warnings.showwarning = _show_unless_quiet
    log_filter.install()
    module = sys.argv[1]
    if module == "rasa" and os.environ.get("HELPLINE_RASA_TUNING", "1") != "0":
        from stack import rasa_tuning

        rasa_tuning.install()
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
