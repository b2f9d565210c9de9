"""``python -m simulator``: the local stand-in for Meta's WhatsApp Cloud API."""

from __future__ import annotations

import argparse
import logging

from simulator.app import create_app
from simulator.settings import DEFAULT_PORT, DEFAULT_WEBHOOK_URL, SimulatorSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--webhook-url", default=DEFAULT_WEBHOOK_URL,
                        help="the channel's webhook (default: %(default)s)")
    parser.add_argument("--statuses", action="store_true",
                        help="send 'sent' and 'delivered' status webhooks like Meta")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = SimulatorSettings.from_env(webhook_url=args.webhook_url,
                                          send_statuses=args.statuses)
    app = create_app(settings, name="whatsapp_simulator")
    print(f"WhatsApp simulator: http://{args.host}:{args.port}/ -> {settings.webhook_url}",
          flush=True)
    app.run(host=args.host, port=args.port, access_log=False, motd=False)


if __name__ == "__main__":
    main()
