"""`make conversaciones`: every case in tests/conversaciones/*.yml through the whole stack.

Starts the real service once (simulator as her phone, signed webhook, real NLU, actions,
queue and console, on free ports), plays the cases concurrently with one phone number each,
and prints the failures in Spanish. Cases that need another state of the service (opening
hours, specialists online, the action server down) run in their own phase, in that order.

    python -m tests.conversaciones.runner [archivo.yml ...] [--caso NOMBRE] [--paralelo N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from pathlib import Path
from zoneinfo import ZoneInfo

from console.security import hash_password
from handoff.queue import HandoffQueue
from stack import Stack, StackPorts
from store.db import make_engine
from tests.conversaciones.casos import Case, CaseError, Step, load_cases
from tests.conversaciones.dominio import load_responses
from tests.conversaciones.especialista import ConsoleDriver
from tests.conversaciones.pasos import Context, play_case
from tests.conversaciones.telefono import Phone

HERE = Path(__file__).resolve().parent
DEFAULT_PARALLEL = 16


@dataclass(frozen=True)
class Outcome:
    case: Case
    step: Step | None
    problem: str | None
    seconds: float

    @property
    def passed(self) -> bool:
        return self.problem is None


class Runner:
    def __init__(self, stack: Stack, schedule_file: Path, parallel: int) -> None:
        self.stack = stack
        self.schedule_file = schedule_file
        self.parallel = asyncio.Semaphore(parallel)
        self.queue = HandoffQueue(make_engine(stack.env()["DATABASE_URL"]))
        self.responses = load_responses()
        self.prefix = f"569{secrets.randbelow(90) + 10}"

    def _phone(self, index: int) -> Phone:
        wa_id = f"{self.prefix}{index:06d}"
        return Phone(self.stack.simulator_url, self.stack.webhook_url, wa_id)

    async def _specialist(self, index: int) -> ConsoleDriver:
        username, password = f"especialista{self.prefix}{index}", secrets.token_urlsafe(12)
        await asyncio.to_thread(self.queue.create_agent, username, hash_password(password))
        driver = ConsoleDriver(self.stack.console_url, self.queue, username, password)
        await driver.login()
        return driver

    async def _run_one(self, case: Case, index: int, console: ConsoleDriver | None) -> Outcome:
        async with self.parallel:
            phone = self._phone(index)
            ctx = Context(phone, self.queue, self.stack.rasa_url, self.stack.api_token,
                          self.responses, console,
                          (lambda: stop_action_server(self.stack)) if case.actions_down else None)
            started = time.monotonic()
            try:
                step, problem = await play_case(ctx, case)
            except Exception as error:  # noqa: BLE001 - report, never abort the other cases
                step, problem = None, f"error del ejecutor: {type(error).__name__}: {error}"
            finally:
                await phone.aclose()
            return Outcome(case, step, problem, time.monotonic() - started)

    def _prepare_phase(self, case: Case) -> None:
        self.schedule_file.write_text(with_dates(case.schedule or ""), encoding="utf-8")

    async def run_phase(self, cases: list[Case], first_index: int) -> list[Outcome]:
        self._prepare_phase(cases[0])
        consoles: list[ConsoleDriver | None] = [None] * len(cases)
        if cases[0].specialists_online:
            consoles = list(await asyncio.gather(
                *(self._specialist(first_index + i) for i in range(len(cases)))))
        try:
            if cases[0].actions_down:  # one after another: the first one stops the server
                return [await self._run_one(case, first_index + i, None)
                        for i, case in enumerate(cases)]
            return list(await asyncio.gather(*(
                self._run_one(case, first_index + i, consoles[i]) for i, case in enumerate(cases))))
        finally:
            for console in consoles:
                if console is not None:
                    await console.aclose()

    async def run(self, cases: list[Case]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        ordered = sorted(cases, key=lambda c: c.phase)
        for (_, label), group in groupby(ordered, key=lambda c: c.phase):
            phase_cases = list(group)
            print(f"· {len(phase_cases)} casos" + (f" ({label.splitlines()[0]})" if label else ""),
                  flush=True)
            outcomes += await self.run_phase(phase_cases, len(outcomes))
        return outcomes


def with_dates(schedule: str) -> str:
    """{hoy} and {manana} in a case's opening hours become today's and tomorrow's dates."""
    today = datetime.now(ZoneInfo("America/Santiago")).date()
    return (schedule.replace("{hoy}", today.isoformat())
            .replace("{manana}", (today + timedelta(days=1)).isoformat()))


def stop_action_server(stack: Stack) -> None:
    """The action server goes down for the cases that prove Rasa answers alone."""
    stack.kill("actions")


def report(outcomes: list[Outcome]) -> int:
    failed = [o for o in outcomes if not o.passed and not o.case.pending]
    pending = [o for o in outcomes if o.case.pending]
    passed = [o for o in outcomes if o.passed and not o.case.pending]
    for outcome in failed:
        where = outcome.step.describe() if outcome.step else "fin del caso"
        print(f"\n✗ {outcome.case.name} ({outcome.case.source}), {where}:\n  {outcome.problem}")
    for outcome in pending:
        state = ("ya pasa: quita «pendiente» del caso" if outcome.passed
                 else f"sigue fallando: {outcome.problem}")
        print(f"\n… pendiente: {outcome.case.name} ({outcome.case.pending}); {state}")
    print(f"\nConversaciones: {len(passed)} pasan, {len(failed)} fallan, "
          f"{len(pending)} pendientes.")
    print(f"conversaciones: {len(passed)} passed, {len(failed)} failed, {len(pending)} skipped")
    return 1 if failed else 0


def _files(arguments: list[str]) -> list[Path]:
    if arguments:
        return [Path(a) for a in arguments]
    return sorted(HERE.glob("*.yml"))


async def _main(cases: list[Case], parallel: int) -> int:
    os.environ.pop("WHATSAPP_ACCESS_TOKEN", None)  # always the simulator as her phone
    stack = Stack(ports=StackPorts.free(), simulator=True)
    schedule_file = stack.state_dir / "horario.yml"
    schedule_file.write_text("", encoding="utf-8")
    stack.extra_env["HORARIO_PATH"] = str(schedule_file)
    stack.extra_env["SERVICIOS_PATH"] = str(HERE / "servicios.csv")
    started = time.monotonic()
    print("Iniciando el servicio completo (simulador, Rasa, acciones, consola)…", flush=True)
    try:
        await asyncio.to_thread(stack.start)
        print(f"Listo en {time.monotonic() - started:.0f} s; {len(cases)} casos.", flush=True)
        with stack.data_key_here():  # the specialists' steps read her ticket from the queue
            outcomes = await Runner(stack, schedule_file, parallel).run(cases)
    finally:
        await asyncio.to_thread(stack.cleanup)
    print(f"Duración total: {time.monotonic() - started:.0f} s")
    return report(outcomes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Pruebas de conversación por el teléfono.")
    parser.add_argument("archivos", nargs="*", help="archivos de casos (por defecto todos)")
    parser.add_argument("--caso", action="append", help="solo los casos con este nombre")
    parser.add_argument("--paralelo", type=int, default=DEFAULT_PARALLEL)
    args = parser.parse_args(argv)
    try:
        cases = load_cases(_files(args.archivos))
    except (CaseError, OSError) as error:
        print(f"No pude leer los casos: {error}")
        return 2
    if args.caso:
        cases = [c for c in cases if c.name in args.caso]
    if not cases:
        print("No hay casos que correr.")
        return 2
    return asyncio.run(_main(cases, args.paralelo))


if __name__ == "__main__":
    sys.exit(main())
