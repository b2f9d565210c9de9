"""`make run`: the whole service on this machine, until Ctrl-C or SIGTERM.

    make run                                                     # embedded (SQLite, one Rasa)
    make run ENDPOINTS=endpoints.production.yml RASA_INSTANCES=3 # PostgreSQL, Redis, nginx

Settings (environment): ENDPOINTS, RASA_INSTANCES, BIND_HOST, RASA_PORT, ACTION_SERVER_PORT,
CONSOLE_PORT, SIMULATOR_PORT, STATE_DIR, and the ``${VAR}``s of the endpoints file (README).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from stack.processes import ROOT, Stack, StackPorts, TopologyError
from store.crypto import KeyConfigError


class Stopped(Exception):
    """A signal asked `make run` to stop."""


def _stop(signum: int, _frame: object) -> None:
    raise Stopped(signal.Signals(signum).name)


def _stack_from_env() -> Stack:
    endpoints = Path(os.environ.get("ENDPOINTS") or "endpoints.yml")
    if not endpoints.is_absolute():
        endpoints = ROOT / endpoints
    state_dir = Path(os.environ.get("STATE_DIR") or ROOT / "var")
    receiver = (os.environ.get("WEBHOOK_RECEIVER") or "").strip()
    return Stack(ports=StackPorts.from_env(), state_dir=state_dir, endpoints=endpoints,
                 rasa_instances=int(os.environ.get("RASA_INSTANCES") or 1),
                 webhook_receiver=None if not receiver else receiver not in ("0", "false", "no"))


def _banner(stack: Stack, made_key: bool) -> str:
    lines = ["", "Listo."]
    if made_key:
        lines.append(f"  Clave de datos nueva (sandbox): {stack.env()['HELPLINE_DATA_KEY_FILE']}"
                     " (modo 0600; en producción usa HELPLINE_DATA_KEY)")
    lines += [f"  Consola de especialistas: {stack.console_url}  (crea una cuenta: make agent NAME=ana)",
              f"  Rasa (API con token):     {stack.rasa_url}",
              f"  Webhook de WhatsApp:      {stack.webhook_url}"]
    if stack.topology.proxied:
        lines.append(f"  nginx delante de {stack.rasa_instances} instancia(s) de Rasa: "
                     + ", ".join(stack.instance_urls))
    if stack.webhook_receiver:
        lines.append(f"  Receptor de webhooks (nginx le envía los de Meta): {stack.receiver_url}")
    if stack.simulator:
        lines.append(f"  Simulador de WhatsApp:    {stack.simulator_url}  <- ábrelo y escribe «hola»")
        lines.append(f"  También por REST: curl -s {stack.rasa_url}/webhooks/rest/webhook "
                     "-d '{\"sender\":\"prueba\",\"message\":\"hola\"}'")
    else:
        lines.append("  WhatsApp: credenciales reales (WHATSAPP_ACCESS_TOKEN); sin simulador.")
    lines.append(f"  Registros: {stack.log_dir}   ·   Ctrl-C para detener")
    return "\n".join(lines)


def main() -> int:
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _stop)
    try:
        stack = _stack_from_env()
    except (TopologyError, ValueError) as error:
        print(f"No se puede iniciar: {error}", file=sys.stderr)
        return 2
    print("Iniciando servidor de acciones, Rasa"
          + (f" ({stack.rasa_instances} instancias, nginx)" if stack.topology.proxied else "")
          + ", consola" + (" y simulador de WhatsApp" if stack.simulator else "")
          + "… (tarda ~1 min)", flush=True)
    try:
        made_key = stack.ensure_data_key()
        stack.start()
        print(_banner(stack, made_key), flush=True)
        while all(child.alive() for child in stack.children):
            time.sleep(1)
        gone = [c.name for c in stack.children if not c.alive()]
        print(f"\nSe detuvo {', '.join(gone)}; revisa {stack.log_dir}. Deteniendo todo…",
              file=sys.stderr, flush=True)
        return 1
    except Stopped:
        print("\nDeteniendo…", flush=True)
        return 0
    except (FileNotFoundError, KeyConfigError, TimeoutError, RuntimeError) as error:
        print(f"\nNo se pudo iniciar: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
