"""Playing one conversation case: each step against the real stack, in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from handoff.queue import HandoffQueue
from tests.conversaciones.casos import MEDIA_KINDS, Case, Step
from tests.conversaciones.dominio import Variation, shown_buttons
from tests.conversaciones.especialista import ConsoleDriver
from tests.conversaciones.telefono import Phone

REPLY_TIMEOUT = 25.0  # seconds a bot message may take under load
CHECK_TIMEOUT = 10.0  # seconds a slot or ticket may take to reach the expected value
SETTLE = 2.0  # seconds of quiet expected after the last step
TICKET_STATES = {"en_espera": "waiting", "asignado": "assigned", "cerrado": "closed"}


class StepFailed(AssertionError):
    """A step's expectation did not hold; the message is for a trainer, in Spanish."""


@dataclass
class Context:
    """What a case needs from the running stack."""

    phone: Phone
    queue: HandoffQueue
    rasa_url: str
    rasa_token: str
    responses: dict[str, tuple[Variation, ...]]
    console: ConsoleDriver | None = None
    stop_actions: Callable[[], None] | None = None


def _shown(message: dict[str, Any] | None) -> str:
    if message is None:
        return "nada"
    buttons = shown_buttons(message)
    extra = f" [botones: {', '.join(buttons)}]" if buttons else ""
    return f"«{message.get('text', '')}»{extra}"


async def _expect_message(ctx: Context, step: Step) -> None:
    message = await ctx.phone.next_message(REPLY_TIMEOUT)
    if message is None:
        raise StepFailed(f"el teléfono no recibió nada en {REPLY_TIMEOUT:.0f} s")
    text, buttons = message.get("text", ""), shown_buttons(message)
    if step.kind == "utter":
        variations = ctx.responses.get(step.value)
        if not variations:
            raise StepFailed(f"domain.yml no tiene la respuesta {step.value}")
        if not any(v.matches(text) and (not v.buttons or v.buttons == buttons)
                   for v in variations):
            wanted = " o ".join(f"«{v.text.strip()}»" + (f" [botones: {', '.join(v.buttons)}]"
                                                          if v.buttons else "")
                                for v in variations)
            raise StepFailed(f"se esperaba {wanted}; el teléfono mostró {_shown(message)}")
    elif text.strip() != step.value.strip():
        raise StepFailed(f"se esperaba «{step.value.strip()}»; el teléfono mostró {_shown(message)}")
    expected_buttons = step.options.get("botones")
    if expected_buttons is not None and tuple(expected_buttons) != buttons:
        raise StepFailed(f"se esperaban los botones {list(expected_buttons)}; "
                         f"el teléfono mostró {_shown(message)}")


async def _expect_quiet(ctx: Context, seconds: float) -> None:
    await asyncio.sleep(seconds)
    extra = await ctx.phone.unread()
    if extra:
        raise StepFailed(f"se esperaba silencio por {seconds:g} s; el teléfono mostró "
                         + ", ".join(_shown(m) for m in extra))


async def _ensure_nothing_unexpected(ctx: Context) -> None:
    extra = await ctx.phone.unread()
    if extra:
        raise StepFailed("antes de este paso llegó un mensaje que el caso no espera: "
                         + ", ".join(_shown(m) for m in extra))


async def _eventually(check, what: str) -> None:
    """Poll ``check`` (returns None when satisfied, else a description) until it holds."""
    deadline = time.monotonic() + CHECK_TIMEOUT
    while True:
        problem = await check()
        if problem is None:
            return
        if time.monotonic() > deadline:
            raise StepFailed(f"{what}: {problem}")
        await asyncio.sleep(0.2)


def _pairs(value: Any) -> dict[str, Any]:
    """``slot_was_set`` accepts Rasa's list of one-key mappings or a plain mapping."""
    if isinstance(value, list):
        merged: dict[str, Any] = {}
        for item in value:
            merged.update(item)
        return merged
    return dict(value)


async def _expect_slots(ctx: Context, value: Any) -> None:
    expected = _pairs(value)
    url = f"{ctx.rasa_url}/conversations/{quote(ctx.phone.wa_id, safe='')}/tracker"

    async def check() -> str | None:
        async with httpx.AsyncClient(timeout=10) as http:
            slots = (await http.get(url, params={"token": ctx.rasa_token})).json().get("slots", {})
        wrong = {k: slots.get(k) for k, v in expected.items() if slots.get(k) != v}
        return None if not wrong else f"los slots valen {wrong}"

    await _eventually(check, f"se esperaba {expected}")


async def _expect_no_trace(ctx: Context, text: str) -> None:
    """Her words are nowhere in her conversation as Rasa serves it (all events, any session)."""
    url = f"{ctx.rasa_url}/conversations/{quote(ctx.phone.wa_id, safe='')}/tracker"

    async def check() -> str | None:
        async with httpx.AsyncClient(timeout=10) as http:
            events = (await http.get(url, params={"token": ctx.rasa_token,
                                                  "include_events": "ALL"})).json().get("events")
        found = [e.get("event") for e in events or [] if text in str(e.get("text") or "")]
        return None if not found else f"su conversación aún contiene «{text}»"

    await _eventually(check, "se esperaba su conversación borrada")


def _ticket_problem(ticket: Any, expected: dict[str, Any]) -> str | None:
    if expected.get("abierto") is False:
        return None if ticket is None else f"hay un caso abierto (estado {ticket.status})"
    if ticket is None:
        return "no hay un caso abierto"
    screening = ticket.screening or {}
    actual = {"nivel": ticket.level, "prioridad": ticket.priority,
              "estado": next((k for k, v in TICKET_STATES.items() if v == ticket.status),
                             ticket.status),
              "contacto": ticket.safe_contact, "resultado": screening.get("result"),
              "respuestas": screening.get("answers")}
    wrong = {k: actual.get(k) for k, v in expected.items() if k != "abierto" and actual.get(k) != v}
    return None if not wrong else f"el caso tiene {wrong}"


async def _expect_ticket(ctx: Context, value: Any) -> None:
    expected = _pairs(value)

    async def check() -> str | None:
        ticket = await asyncio.to_thread(ctx.queue.open_ticket_for, ctx.phone.wa_id)
        return _ticket_problem(ticket, expected)

    await _eventually(check, f"se esperaba el caso {expected}")


async def _specialist(ctx: Context, value: Any) -> None:
    if ctx.console is None:
        raise StepFailed("este caso necesita «especialistas: conectadas»")
    action = next(iter(value)) if isinstance(value, dict) else value
    wa_id = ctx.phone.wa_id
    await ctx.console.keep_online()
    if action == "toma_el_caso":
        await ctx.console.claim(wa_id)
    elif action == "responde":
        await ctx.console.reply(wa_id, str(value["responde"]))
    else:
        await ctx.console.close(wa_id, goodbye=action == "cierra_con_despedida")


async def _send(ctx: Context, step: Step) -> None:
    await _ensure_nothing_unexpected(ctx)
    phone = ctx.phone
    if step.kind == "user":
        await phone.write(step.value)
    elif step.kind == "boton":
        await phone.tap(step.value)
    elif step.kind == "ubicacion":
        await phone.share_location(float(step.value["latitud"]), float(step.value["longitud"]))
    elif step.kind == "medio":
        await phone.send_media(MEDIA_KINDS[step.value])
    elif step.kind == "nota_de_voz":
        await phone.send_media("voice")
    elif step.kind == "evento":
        await phone.send_raw(step.value)


async def play_step(ctx: Context, step: Step) -> None:
    if step.kind in ("bot", "utter"):
        await _expect_message(ctx, step)
    elif step.kind == "silencio":
        await _expect_quiet(ctx, float(step.value))
    elif step.kind == "slot_was_set":
        await _expect_slots(ctx, step.value)
    elif step.kind == "caso":
        await _expect_ticket(ctx, step.value)
    elif step.kind == "sin_rastro":
        await _expect_no_trace(ctx, str(step.value))
    elif step.kind == "especialista":
        await _specialist(ctx, step.value)
    elif step.kind == "servidor_de_acciones":
        if ctx.stop_actions is None:
            raise StepFailed("este caso necesita «servidor_de_acciones: apagado»")
        await asyncio.to_thread(ctx.stop_actions)
    else:
        await _send(ctx, step)


async def play_case(ctx: Context, case: Case) -> tuple[Step | None, str | None]:
    """(None, None) if the case passed, else the failing step (None: after the last) and why."""
    for step in case.steps:
        try:
            await play_step(ctx, step)
        except AssertionError as failure:
            return step, str(failure)
    try:
        await _expect_quiet(ctx, SETTLE)
    except AssertionError as failure:
        return None, f"al final: {failure}"
    return None, None
