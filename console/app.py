"""The specialists' console: Sanic blueprints over the handoff queue and Rasa's HTTP API.

``create_app`` only wires the parts together:

| part | where |
| --- | --- |
| what a button does across the queue and Rasa (claim, reply, close, …) | ``console/casework.py`` |
| may we write to her now | ``console/contact.py`` |
| pages and APIs, by area | ``console/routes/`` |
| login, CSRF, roles, rendering | ``console/web.py`` |
| accounts and one-time codes | ``console/accounts.py`` |
| live view, reports | ``console/supervision.py``, ``console/reports.py`` |
| did a message leave | ``console/delivery.py`` |
| blocking calls off the event loop | ``console/offload.py`` |
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Sanic

from console.accounts import Accounts
from console.assigner import run_forever
from console.canned import CannedAnswers
from console.casework import Casework, Template
from console.client import ClientResolver
from console.closed_reading import ClosedReadings
from console.config import Settings
from console.delivery import ChannelOutbox, Delivery
from console.labels import case_label
from console.offload import InThreads, in_thread, new_pool
from console.review import register as register_review
from console.routes import blueprints
from console.sessions import SessionStore
from console.texts import Texts
from console.totp import TotpStore
from console.views import TicketPresenter, local_datetime, local_time
from console.web import Services, authenticate, security_headers
from handoff.base import utcnow
from handoff.queue import HandoffQueue
from handoff.rasa_api import RasaAPI
from handoff.states import Role, TicketStatus
from handoff.stats import StatsStore
from training.items import ReviewStore
from training.labelling import ReviewedWriter
from triage.levels import TriageMap, load_triage_map

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
_app_names = itertools.count(1)


def _rules() -> TriageMap:
    try:
        return load_triage_map()
    except Exception:  # noqa: BLE001
        logger.exception("Could not read data/triage.yml; levels come from parse data only.")
        return TriageMap(rules={})


def _channel_window() -> Callable[[str], Any] | None:
    """The channel's ``is_window_open``, if it can be imported."""
    try:
        from channels.whatsapp.window import is_window_open
    except Exception:  # noqa: BLE001 - any import problem means: use the tracker
        return None
    return is_window_open


def _channel_identity_changes() -> Callable[..., Any] | None:
    """The channel's ``recent_identity_changes``, if it can be imported."""
    try:
        from channels.whatsapp.inbox import recent_identity_changes
    except Exception:  # noqa: BLE001
        return None
    return recent_identity_changes


def _region_of_comuna() -> Callable[[str], str | None] | None:
    try:
        from components.chile_geo import load_geo

        geo = load_geo()
    except Exception:  # noqa: BLE001
        logger.exception("Could not read data/geo/chile.yml: regions only from the region slot.")
        return None

    def region(comuna: str) -> str | None:
        place = geo.comunas.get(comuna)
        return place.region if place else None

    return region


def _label_key(settings: Settings) -> bytes:
    if settings.secret:
        return f"case-labels:{settings.secret}".encode()
    from store.crypto import data_keyring

    return data_keyring().digest("console case labels").encode()


def _jinja(label: Callable[[int], str]) -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html"]))
    env.filters["local"] = local_time
    env.filters["local_full"] = local_datetime
    env.globals["label"] = label
    env.globals["Status"] = TicketStatus
    env.globals["Role"] = Role
    return env


def create_app(
    queue: HandoffQueue | None = None,
    settings: Settings | None = None,
    rasa: RasaAPI | None = None,
    canned: CannedAnswers | None = None,
    rules: TriageMap | None = None,
    window_checker: Callable[[str], Any] | None | str = "auto",
    delivery: Delivery | None = None,
    texts: Texts | None = None,
    stats: StatsStore | None = None,
    scrypt_n: int | None = None,
    review_store: ReviewStore | None = None,
    review_writer: ReviewedWriter | None = None,
    identity_changes: Callable[..., Any] | None | str = "auto",
    clock: Callable[[], datetime] = utcnow,
) -> Sanic:
    """The console app. Tests pass their own queue, settings, Rasa client or delivery, and
    their own review queue and labelled-data folder (the trainers' pages, console/review/), and
    a clock for sessions and login delays."""
    settings = settings or Settings.from_env()
    queue = queue or HandoffQueue.from_env()
    pool = new_pool(settings.db_threads)
    if window_checker == "auto":
        window_checker = _channel_window() if settings.use_channel_window else None
    checker = window_checker
    if identity_changes == "auto":
        identity_changes = _channel_identity_changes() if settings.use_channel_window else None
    changes = identity_changes

    async def identity(conversation_id: str, since: float) -> list[Any]:
        return await in_thread(pool, changes, conversation_id, since)  # type: ignore[arg-type]

    async def window(conversation_id: str) -> bool | None:
        return await in_thread(pool, checker, conversation_id)  # type: ignore[arg-type]

    key = _label_key(settings)
    texts = texts or Texts()
    rasa = rasa or RasaAPI(settings.rasa_url, settings.rasa_token)
    sessions = SessionStore(queue.engine, settings.secret, settings.session_hours,
                            settings.idle_minutes, clock)
    in_queue = InThreads(queue, pool)
    totp = TotpStore(queue.engine, clock)
    # the channel's outbox says whether a reply left (tests of the console alone have none)
    delivery = delivery or Delivery(ChannelOutbox() if settings.use_channel_window else None,
                                    run_blocking=lambda f, *a: in_thread(pool, f, *a))

    def label(ticket_id: int) -> str:
        return case_label(ticket_id, key)

    casework = Casework(
        in_queue, rasa, delivery, rules if rules is not None else _rules(), texts, settings.output_channel,
        Template(settings.template_name, settings.template_language),
        window if checker else None, _region_of_comuna(),
        identity_changes=identity if changes else None)
    app = Sanic(f"helpline_console_{next(_app_names)}")
    app.config.FALLBACK_ERROR_FORMAT = "text"
    app.ctx.services = Services(
        settings=settings, queue=in_queue, sessions=InThreads(sessions, pool),
        accounts=InThreads(Accounts(queue, sessions, settings.one_time_code_hours, scrypt_n,
                                    totp), pool),
        stats=InThreads(stats or StatsStore(queue.engine), pool),
        casework=casework, canned=canned or CannedAnswers(), texts=texts,
        jinja=_jinja(label), present=TicketPresenter(texts, label, settings.sla), rasa=rasa,
        pool=pool, label=label, client=ClientResolver(settings.trusted_proxies),
        readings=ClosedReadings(clock, settings.idle_minutes), totp=InThreads(totp, pool))
    app.static("/static", str(HERE / "static"), name="static")
    app.on_request(authenticate)
    app.on_response(security_headers)
    for bp in blueprints():
        app.blueprint(bp)
    register_review(app, store=review_store, writer=review_writer)

    @app.listener("after_server_start")
    async def start_assigner(app_: Sanic, _loop: Any) -> None:
        if settings.auto_assign:
            app_.ctx.assigner = asyncio.get_running_loop().create_task(run_forever(
                in_queue, casework, settings.cases_per_specialist, settings.auto_assign_seconds))

    @app.listener("before_server_stop")
    async def stop(app_: Sanic, _loop: Any) -> None:
        task = getattr(app_.ctx, "assigner", None)
        if task is not None:
            task.cancel()
        await rasa.close()

    @app.listener("after_server_stop")
    async def release_threads(app_: Sanic, _loop: Any) -> None:
        pool.shutdown(wait=False)

    return app
