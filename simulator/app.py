"""The simulator's Sanic app: Meta's Graph API for our server, and a phone page for people.

Routes:
  POST /{version}/{phone_number_id}/messages  Graph API send (bearer token, Meta-like checks)
  GET  /                                      phone-like chat page (static/)
  POST /_sim/send                             write as a user: builds, signs, posts a webhook
  POST /_sim/redeliver                        post the same webhook again (same wamid)
  POST /_sim/status                           post a status webhook for one of our messages
  GET  /_sim/conversations[/{wa_id}?after=N]  what each phone shows (JSON, for polling)
  GET|POST|DELETE /_sim/faults                injected failures: the next N sends, or every
                                              send for a while ({"for_seconds": s})
  GET  /_sim/log, POST /_sim/reset            API calls and webhooks seen; start afresh

Like Meta, a webhook that does not get a 200 is delivered again, with backoff, for
``retry_webhooks_for`` seconds (0: never); the first answer is what the caller sees.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from simulator import webhooks as wh
from simulator.settings import SimulatorSettings
from simulator.state import Fault, SimState
from simulator.validation import MEDIA_TYPES, GraphError, validate_message

STATIC_DIR = Path(__file__).resolve().parent / "static"
WA_ID = re.compile(r"^\d{5,20}$")
SANTIAGO = (-33.4489, -70.6693)
GENERIC_ERRORS = {429: (130429, "(#130429) Rate limit hit"),
                  500: (1, "An unknown error occurred"),
                  503: (2, "Service temporarily unavailable")}


def _trace_id() -> str:
    return "A" + os.urandom(11).hex()


def _graph_error(exc: GraphError) -> HTTPResponse:
    return response.json(exc.body(_trace_id()), status=exc.http_status)


def render(body: dict[str, Any]) -> dict[str, Any]:
    """What a phone shows for an outgoing message (plus the raw message)."""
    kind = body.get("type", "text")
    out: dict[str, Any] = {"type": kind, "message": body}
    value = body.get(kind) or {}
    if kind == "text":
        out["text"] = value["body"]
    elif kind == "interactive":
        out["text"] = value["body"]["text"]
        action = value["action"]
        if value["type"] == "button":
            out["buttons"] = [{"id": b["reply"]["id"], "title": b["reply"]["title"]}
                              for b in action["buttons"]]
        else:
            out["list"] = {"button": action["button"], "rows": [
                {"id": r["id"], "title": r["title"], "description": r.get("description")}
                for section in action["sections"] for r in section["rows"]]}
    elif kind in MEDIA_TYPES:
        out["text"] = value.get("caption") or f"[{kind}]"
        out["link"] = value.get("link")
    elif kind == "template":
        out["text"] = f"[plantilla {value.get('name')}]"
    else:
        out["text"] = f"[{kind}]"
    return out


def _user_message(wa_id: str, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """(message object, what the phone shows) for a /_sim/send request."""
    kind = data.get("type", "text")
    if kind == "text":
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text is required")
        return wh.text_message(wa_id, text), text
    if kind in ("button_reply", "list_reply", "template_button"):
        reply_id, title = data.get("id"), data.get("title")
        if not isinstance(reply_id, str) or not isinstance(title, str):
            raise ValueError("id and title are required")
        if kind == "button_reply":
            return wh.button_reply_message(wa_id, reply_id, title), title
        if kind == "list_reply":
            return wh.list_reply_message(wa_id, reply_id, title, data.get("description")), title
        return wh.template_button_message(wa_id, reply_id, title), title
    if kind == "location":
        lat, lon = float(data.get("latitude", SANTIAGO[0])), float(data.get("longitude", SANTIAGO[1]))
        return (wh.location_message(wa_id, lat, lon, name=data.get("name"),
                                    address=data.get("address")), "📍 Ubicación")
    if kind == "voice":
        return wh.voice_message(wa_id), "🎤 Nota de voz"
    if kind in MEDIA_TYPES:
        return wh.media_message(wa_id, kind, caption=data.get("caption")), f"📎 {kind}"
    if kind == "unsupported":
        return wh.unsupported_message(wa_id), "[mensaje no soportado]"
    return _system_event(wa_id, kind, data)


def _system_event(wa_id: str, kind: str, data: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Events that are not her words (pywa's real shapes)."""
    if kind == "revoke":
        original = data.get("original_wamid")
        if not isinstance(original, str) or not original:
            raise ValueError("original_wamid is required")
        return wh.revoke_message(wa_id, original), "🚫 Eliminaste este mensaje"
    if kind == "identity_change":
        return wh.identity_change_message(wa_id), "[cambió el código de seguridad]"
    if kind == "number_change":
        new = str(data.get("new_wa_id", ""))
        if not WA_ID.match(new):
            raise ValueError("new_wa_id must be 5 to 20 digits")
        return wh.number_change_message(wa_id, new), "[cambió de número]"
    if kind == "call_permission_reply":
        return wh.call_permission_reply_message(wa_id), "[permiso de llamada]"
    if kind == "flow_completion":
        return wh.flow_completion_message(wa_id), "[formulario enviado]"
    raise ValueError(f"unknown type {kind!r}")


def create_app(settings: SimulatorSettings | None = None, state: SimState | None = None,
               name: str | None = None) -> Sanic:
    settings = settings or SimulatorSettings.from_env()
    state = state or SimState()
    app = Sanic(name or f"whatsapp_simulator_{uuid.uuid4().hex[:8]}", configure_logging=False)
    app.config.ACCESS_LOG = False
    app.ctx.settings = settings
    app.ctx.state = state
    sender = wh.WebhookSender(settings.webhook_url, settings.app_secret, settings.webhook_timeout)
    tasks: set[asyncio.Task[Any]] = set()

    def spawn(coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def attempt(body: bytes, wamid: str | None, retry: int = 0) -> dict[str, Any]:
        try:
            answer = await sender.deliver(body)
            result: dict[str, Any] = {"webhook_status": answer.status_code, "error": None}
        except httpx.HTTPError as exc:
            result = {"webhook_status": None, "error": type(exc).__name__}
        state.log_webhook(wamid=wamid, status=result["webhook_status"], error=result["error"],
                          retry=retry)
        return result

    async def retry_until_accepted(body: bytes, wamid: str | None) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.retry_webhooks_for
        delay, retry = 0.5, 0
        while loop.time() + delay < deadline:
            await asyncio.sleep(delay)
            retry += 1
            if (await attempt(body, wamid, retry))["webhook_status"] == 200:
                return
            delay = min(settings.retry_max_delay, delay * 2)

    async def deliver(body: bytes, wamid: str | None) -> dict[str, Any]:
        """One delivery now; if it is not a 200, Meta-like retries in the background."""
        result = await attempt(body, wamid)
        if result["webhook_status"] != 200 and settings.retry_webhooks_for > 0:
            spawn(retry_until_accepted(body, wamid))
        return result

    def envelope(**kwargs: Any) -> bytes:
        return wh.encode(wh.update(phone_number_id=settings.phone_number_id,
                                   display_phone_number=settings.display_phone_number, **kwargs))

    async def send_statuses(wamid: str, recipient: str, callback: str | None) -> None:
        for status in ("sent", "delivered"):
            await asyncio.sleep(0.05)
            await deliver(envelope(statuses=[wh.status_object(wamid, status, recipient,
                                                              callback=callback)]), None)

    @app.listener("before_server_stop")
    async def _close(_app: Sanic, _loop: Any) -> None:
        await sender.aclose()

    # --- Graph API ----------------------------------------------------------------

    @app.post("/<version>/<phone_number_id>/messages")
    async def messages(request: Request, version: str, phone_number_id: str) -> HTTPResponse:
        if request.headers.get("authorization") != f"Bearer {settings.access_token}":
            state.log_api_call(kind="unauthorized", status=401, code=190)
            return _graph_error(GraphError(
                "invalid token", code=190, http_status=401,
                message="Invalid OAuth access token - Cannot parse access token"))
        if phone_number_id != settings.phone_number_id:
            state.log_api_call(kind="unknown_number", status=400, code=100)
            return _graph_error(GraphError(
                f"Object with ID '{phone_number_id}' does not exist",
                message="Unsupported post request."))
        try:
            body = json.loads(request.body)
            validate_message(body)
        except ValueError:
            state.log_api_call(kind="invalid", status=400, code=100)
            return _graph_error(GraphError("the request body is not valid JSON"))
        except GraphError as exc:
            state.log_api_call(kind="invalid", status=400, code=100, details=exc.details)
            return _graph_error(exc)
        if body.get("status") == "read":
            state.mark_read(body["message_id"], typing="typing_indicator" in body)
            state.log_api_call(kind="read", status=200, code=None)
            return response.json({"success": True})
        fault = state.next_fault()
        if fault is not None:
            await asyncio.sleep(fault.delay)
            if fault.http_status >= 400:
                code, text = GENERIC_ERRORS.get(fault.http_status, (1, "Error"))
                code = fault.code if fault.code is not None else code
                state.log_api_call(kind="fault", status=fault.http_status, code=code)
                return _graph_error(GraphError("injected fault", code=code,
                                               http_status=fault.http_status,
                                               message=fault.message or f"(#{code}) {text}"))
        to = body["to"].lstrip("+")
        wamid = wh.new_wamid()
        callback = body.get("biz_opaque_callback_data")
        state.add_event(to, "out", wamid=wamid, callback=callback, **render(body))
        state.log_api_call(kind="message", status=200, code=None, type=body.get("type"))
        if settings.send_statuses:
            spawn(send_statuses(wamid, to, callback))
        return response.json({"messaging_product": "whatsapp",
                              "contacts": [{"input": body["to"], "wa_id": to}],
                              "messages": [{"id": wamid}]})

    # --- the phone page and its JSON ----------------------------------------------

    @app.get("/")
    async def index(_: Request) -> HTTPResponse:
        return await response.file(STATIC_DIR / "index.html")

    app.static("/static", str(STATIC_DIR))

    @app.get("/_sim/health")
    async def health(_: Request) -> HTTPResponse:
        return response.json({"status": "ok", "webhook_url": settings.webhook_url})

    def _json_body(request: Request) -> dict[str, Any]:
        try:
            data = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise ValueError("body is not JSON") from exc
        if not isinstance(data, dict):
            raise ValueError("body must be a JSON object")
        return data

    @app.post("/_sim/send")
    async def send(request: Request) -> HTTPResponse:
        try:
            data = _json_body(request)
            wa_id = str(data.get("wa_id", ""))
            if not WA_ID.match(wa_id):
                raise ValueError("wa_id must be 5 to 20 digits")
            message, shown = _user_message(wa_id, data)
        except (ValueError, TypeError) as exc:
            return response.json({"error": str(exc)}, status=400)
        body = envelope(messages=[message], profile_name=str(data.get("name") or "Usuaria"))
        state.remember_payload(message["id"], body)
        event = state.add_event(wa_id, "in", wamid=message["id"], type=message["type"],
                                text=shown, read=False)
        result = await deliver(body, message["id"])
        return response.json({"wamid": message["id"], "seq": event["seq"], **result})

    @app.post("/_sim/redeliver")
    async def redeliver(request: Request) -> HTTPResponse:
        try:
            data = _json_body(request)
            times = max(1, min(int(data.get("times", 1)), 20))
        except (ValueError, TypeError) as exc:
            return response.json({"error": str(exc)}, status=400)
        body = state.payload(str(data.get("wamid")))
        if body is None:
            return response.json({"error": "unknown wamid"}, status=404)
        results = await asyncio.gather(*(deliver(body, data["wamid"]) for _ in range(times)))
        return response.json({"results": results})

    @app.post("/_sim/status")
    async def status(request: Request) -> HTTPResponse:
        try:
            data = _json_body(request)
        except ValueError as exc:
            return response.json({"error": str(exc)}, status=400)
        wamid = str(data.get("wamid"))
        sent = [e for e in state.outbound() if e.get("wamid") == wamid]
        if not sent:
            return response.json({"error": "unknown wamid"}, status=404)
        obj = wh.status_object(wamid, str(data.get("status", "delivered")),
                               sent[0]["message"]["to"].lstrip("+"),
                               error_code=data.get("error_code"),
                               error_title=data.get("error_title"),
                               callback=sent[0].get("callback"))
        return response.json(await deliver(envelope(statuses=[obj]), None))

    @app.get("/_sim/conversations")
    async def conversations(_: Request) -> HTTPResponse:
        return response.json({"conversations": state.summary()})

    @app.get("/_sim/conversations/<wa_id>")
    async def conversation(request: Request, wa_id: str) -> HTTPResponse:
        try:
            after = int(request.args.get("after", "0"))
        except ValueError:
            after = 0
        return response.json({"wa_id": wa_id, "events": state.events(wa_id, after)})

    @app.route("/_sim/faults", methods=["GET", "POST", "DELETE"])
    async def faults(request: Request) -> HTTPResponse:
        if request.method == "DELETE":
            state.clear_faults()
        elif request.method == "POST":
            try:
                data = _json_body(request)
                count = int(data.get("count", 1))
                seconds = float(data.get("for_seconds", 0))
                fault = Fault(http_status=int(data.get("http_status", 500)),
                              code=None if data.get("code") is None else int(data["code"]),
                              message=data.get("message"), delay=float(data.get("delay", 0)))
                if not (1 <= count <= 1000 and 200 <= fault.http_status <= 599
                        and 0 <= fault.delay <= 60 and 0 <= seconds <= 3600):
                    raise ValueError("count 1-1000, http_status 200-599, delay 0-60, "
                                     "for_seconds 0-3600")
            except (ValueError, TypeError) as exc:
                return response.json({"error": str(exc)}, status=400)
            if seconds:
                state.add_outage(fault, seconds)
            else:
                state.add_faults(fault, count)
        return response.json({"pending": len(state.faults),
                              "outage_seconds": round(state.outage_left(), 3)})

    @app.get("/_sim/log")
    async def log(_: Request) -> HTTPResponse:
        return response.json({"api_calls": state.api_calls, "webhooks": state.webhooks})

    @app.post("/_sim/reset")
    async def reset(_: Request) -> HTTPResponse:
        state.reset()
        return response.json({"status": "ok"})

    return app
