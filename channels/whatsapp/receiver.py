"""The webhook receiver: a small process that only stores Meta's webhooks in the inbox and
answers them, in front of the Rasa instances of the production topology.

Why a process of its own: inside Rasa, the 200 waits for the event loop, which the Rasa turns
hold for tens of milliseconds at a time (the NLU, the policies). Here nothing else runs, so
the acknowledgement costs the signature, the parse and the inbox commit only. The turns still
run in the Rasa instances, which take the messages from the inbox; a datagram
(``WHATSAPP_NUDGE_TO``, nudge.py) wakes one of them at once. nginx sends
``/webhooks/whatsapp/webhook`` here and, while this process is down, to the instances, which
serve the same webhook themselves (webhook.py, one implementation).

    python -m stack.quiet channels.whatsapp.receiver --host 127.0.0.1 --port 5004

Routes: ``GET/POST /webhooks/whatsapp/webhook`` (Meta), ``GET /webhooks/whatsapp/`` (alive),
``GET /webhooks/whatsapp/ready`` (200 when the inbox database answers). SIGTERM: Sanic stops
taking connections and lets the requests in flight finish; each is answered only after its
commit.
"""

from __future__ import annotations

import argparse
import gc
import logging
from typing import Any

from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.whatsapp.config import WhatsAppConfig, load_config
from channels.whatsapp.nudge import NudgeSender
from channels.whatsapp.webhook import WebhookEndpoint, limit_request_size

logger = logging.getLogger(__name__)

PREFIX = "/webhooks/whatsapp"


def build_app(config: WhatsAppConfig, name: str = "helpline_webhook_receiver") -> Sanic:
    nudges = NudgeSender(config.nudge_to)
    endpoint = WebhookEndpoint(config, lambda _update: nudges.nudge())
    app = Sanic(name, configure_logging=False)  # our logging: main(), scrubbed by stack.quiet
    limit_request_size(app)
    bp = Blueprint("whatsapp_receiver", url_prefix=PREFIX)

    @bp.route("/", methods=["GET"])
    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    @bp.route("/ready", methods=["GET"])
    async def ready(_: Request) -> HTTPResponse:
        ok = await endpoint.database_answers()
        problems = [] if ok else ["database: the inbox database does not answer"]
        return response.json({"ready": ok, "problems": problems}, status=200 if ok else 503)

    @bp.route("/webhook", methods=["GET"])
    async def verify(request: Request) -> HTTPResponse:
        return endpoint.verify(request)

    @bp.route("/webhook", methods=["POST"])
    async def receive(request: Request) -> HTTPResponse:
        return await endpoint.receive(request)

    @app.listener("after_server_stop")
    async def _close(_app: Any, _loop: Any) -> None:
        nudges.close()
        endpoint.close()

    app.blueprint(bp)
    app.ctx.endpoint = endpoint
    app.ctx.nudges = nudges
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m channels.whatsapp.receiver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5004)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = load_config()
    if not config.nudge_to:
        logger.warning("WHATSAPP_NUDGE_TO is empty: the Rasa instances find new messages only "
                       "when they poll the inbox")
    app = build_app(config)
    gc.collect()
    gc.freeze()  # what was imported lives as long as the process: no full collection walks it
    app.run(host=args.host, port=args.port, access_log=False, workers=1)


if __name__ == "__main__":
    main()
