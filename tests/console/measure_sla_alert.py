"""How long after an SLA breach the supervisor's alert is on screen (headless Chromium).

    .venv/bin/python tests/console/measure_sla_alert.py [--runs 10] [--poll 4] [--limit 8]

A console with the default poll interval and a short emergency limit; a supervisor's page open
on «Supervisión»; each run opens an emergency case and measures, for the moment its limit
passes: (page) the time the page itself shows the alert (``data-shown-at``, the browser's
clock, same machine) and (outside) the time the test sees it displayed through WebDriver.
Prints the median and the maximum of each. Not part of ``make test`` (it takes a while).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]

from sanic import Sanic  # noqa: E402

Sanic.test_mode = True

import conftest  # noqa: E402
from test_console_pages_browser import (  # noqa: E402
    DESKTOP,
    log_in,
    measure_sla_alert,
    viewport,
)

from handoff.priority import Priority  # noqa: E402
from handoff.queue import HandoffQueue  # noqa: E402
from handoff.sla import SlaPolicy  # noqa: E402
from store.db import make_engine  # noqa: E402
from tests.browser import chromium  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--poll", type=int, default=4, help="the console's poll interval (s)")
    parser.add_argument("--limit", type=float, default=8.0, help="emergency limit (s)")
    args = parser.parse_args()

    fake = conftest.FakeRasa()
    server = ThreadingHTTPServer(("127.0.0.1", 0), conftest._fake_rasa_handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    folder = tempfile.mkdtemp(prefix="sla-alert-")
    queue = HandoffQueue(make_engine(f"sqlite:///{folder}/h.db"), digest=conftest._digest)
    sla = SlaPolicy({Priority.EMERGENCY: args.limit / 60, Priority.HIGH_RISK: 10,
                     Priority.RISK: 30, Priority.PERSON: None})
    console = conftest.start_console(queue, fake, settings=conftest.console_settings(
        fake, sla=sla, poll_seconds=args.poll))
    conftest.make_agent(queue, "sara", "supervisor")
    ana = conftest.make_agent(queue, "ana")
    page, outside = [], []
    try:
        with chromium() as driver:
            viewport(driver, DESKTOP, False)
            log_in(driver, console, "sara")
            driver.get(f"{console.url}/supervision")
            for run in range(args.runs):
                figures = measure_sla_alert(driver, console, queue, args.limit)
                page.append(figures["page_ms"])
                outside.append(figures["outside_ms"])
                print(f"run {run + 1}: page {figures['page_ms']:.0f} ms, "
                      f"outside {figures['outside_ms']:.0f} ms", flush=True)
                queue.claim(figures["ticket"], ana)  # clears the alert for the next run
                while driver.find_element("id", "sla-banner").is_displayed():
                    pass
    finally:
        console.stop()
        server.shutdown()
    print(f"poll {args.poll} s, {args.runs} breaches: breach → alert on screen "
          f"median {statistics.median(page):.0f} ms (max {max(page):.0f}) by the page's clock; "
          f"median {statistics.median(outside):.0f} ms (max {max(outside):.0f}) seen from outside")
    return 0


if __name__ == "__main__":
    sys.exit(main())
