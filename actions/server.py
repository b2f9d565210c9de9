"""``python -m actions.server``: rasa-sdk's action server with a shared secret.

Same arguments as ``rasa run actions`` / ``python -m rasa_sdk`` (``--actions actions
--port 5055`` …). Differences from rasa-sdk's own server:

- every request but ``GET /health`` must carry ``X-Action-Token`` equal (constant-time
  comparison) to ``ACTION_SERVER_TOKEN``; otherwise 401 and nothing runs. Rasa sends it from
  ``action_endpoint.headers`` in ``endpoints.yml`` / ``endpoints.production.yml``.
  Without ``ACTION_SERVER_TOKEN``: real mode (``WHATSAPP_ACCESS_TOKEN`` set) refuses to
  start; sandbox generates a random one, so every request is refused until both sides are
  given the same token (``make run`` gives Rasa and this server one per run).
- an action that raises gets ``500 {"error": "internal error"}``: rasa-sdk's own handler
  answers with the whole request (her tracker), which Rasa then logs; the log line here
  names the action and the exception type, with the traceback's frames only.
- it listens on ``SANIC_HOST`` or ``BIND_HOST`` (default 127.0.0.1, not rasa-sdk's 0.0.0.0),
  and every log record goes through the log scrubber (``store/log_filter.py``).
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import sys
import traceback
from collections.abc import Mapping

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from store import log_filter

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-Action-Token"
TOKEN_ENV = "ACTION_SERVER_TOKEN"
MIN_TOKEN_LENGTH = 16
OPEN_PATHS = frozenset({"/health"})
DEFAULT_HOST = "127.0.0.1"


class ActionServerConfigError(RuntimeError):
    """The action server must not start with this configuration."""


def configured_token(env: Mapping[str, str] | None = None) -> str:
    """``ACTION_SERVER_TOKEN``; without it, refuse in real mode, a random one in sandbox."""
    env = os.environ if env is None else env
    token = (env.get(TOKEN_ENV) or "").strip()
    real_mode = bool((env.get("WHATSAPP_ACCESS_TOKEN") or "").strip())
    if not token:
        if real_mode:
            raise ActionServerConfigError(
                f"{TOKEN_ENV} is not set: the action server refuses to start in real mode "
                "without the secret Rasa sends (endpoints.yml, action_endpoint.headers)")
        logger.warning("%s is not set: using a random token, so every request will be "
                       "refused until Rasa and this server share one", TOKEN_ENV)
        return secrets.token_urlsafe(32)
    if real_mode and len(token) < MIN_TOKEN_LENGTH:
        raise ActionServerConfigError(
            f"{TOKEN_ENV} must be at least {MIN_TOKEN_LENGTH} characters in real mode")
    return token


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison of the header with the secret."""
    return hmac.compare_digest((given or "").encode("utf-8", "surrogateescape"),
                               expected.encode("utf-8"))


def protect(app: Sanic, token: str) -> Sanic:
    """Add the secret check and the body-free error answer to rasa-sdk's app."""

    @app.middleware("request")
    async def require_token(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        if token_matches(request.headers.get(TOKEN_HEADER), token):
            return None
        logger.warning("action server: request to %s refused (missing or wrong %s)",
                       request.path, TOKEN_HEADER)
        return response.json({"error": "unauthorized"}, status=401)

    @app.exception(Exception)
    async def internal_error(request: Request, exception: Exception) -> HTTPResponse:
        frames = "".join(traceback.format_tb(exception.__traceback__))
        logger.error("action %s raised %s\n%s", _action_name(request),
                     type(exception).__name__, frames)
        return response.json({"error": "internal error"}, status=500)

    return app


def _action_name(request: Request) -> str:
    try:
        body = request.json
    except Exception:  # noqa: BLE001 - the body may be anything
        return "?"
    name = body.get("next_action") if isinstance(body, dict) else None
    return name if isinstance(name, str) and name.isidentifier() else "?"


def create_app(action_package: str, token: str, cors_origins: object = "") -> Sanic:
    from rasa_sdk.endpoint import create_app as sdk_create_app

    return protect(sdk_create_app(action_package, cors_origins=cors_origins), token)


def bind_host(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get("SANIC_HOST") or env.get("BIND_HOST") or DEFAULT_HOST


def main(argv: list[str] | None = None) -> int:
    from rasa_sdk import utils
    from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
    from rasa_sdk.endpoint import create_argument_parser, create_ssl_context
    from rasa_sdk.plugin import plugin_manager

    args = create_argument_parser().parse_args(argv)
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(logging.getLogger(APPLICATION_ROOT_LOGGER_NAME),
                                 args.log_file, args.loglevel, args.logging_config_file)
    utils.update_sanic_log_level()
    log_filter.install()
    try:
        token = configured_token()
    except ActionServerConfigError as error:
        print(f"action server: {error}", file=sys.stderr)
        return 2
    app = create_app(args.actions, token, cors_origins=args.cors or "")
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    ssl_context = create_ssl_context(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    host = bind_host()
    logger.info("Action server on %s://%s:%s (secret header required)",
                "https" if ssl_context else "http", host, args.port)
    app.run(host, args.port, ssl=ssl_context, workers=utils.number_of_sanic_workers())
    return 0


if __name__ == "__main__":
    sys.exit(main())
