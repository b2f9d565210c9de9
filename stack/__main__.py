"""`make run`: the whole service on this machine, until Ctrl-C."""

from __future__ import annotations

import signal
import sys
import time

from stack.processes import ROOT, Stack, StackPorts


def main() -> int:
    stack = Stack(ports=StackPorts(), state_dir=ROOT / "var")
    print("Iniciando servidor de acciones, Rasa, consola"
          + (" y simulador de WhatsApp" if stack.simulator else "") + "… (tarda ~1 min)", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        stack.start()
        print(f"\nListo.\n"
              f"  Consola de especialistas: {stack.console_url}  "
              f"(crea una cuenta: make agent NAME=ana)\n"
              f"  Rasa (API con token):     {stack.rasa_url}\n"
              f"  Webhook de WhatsApp:      {stack.webhook_url}", flush=True)
        if stack.simulator:
            print(f"  Simulador de WhatsApp:    {stack.simulator_url}  <- ábrelo y escribe «hola»",
                  flush=True)
        else:
            print("  WhatsApp: credenciales reales (WHATSAPP_ACCESS_TOKEN); sin simulador.", flush=True)
        print(f"  También por REST: curl -s {stack.rasa_url}/webhooks/rest/webhook "
              "-d '{\"sender\":\"prueba\",\"message\":\"hola\"}'", flush=True)
        print(f"  Registros: {stack.log_dir}   ·   Ctrl-C para detener", flush=True)
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nDeteniendo…", flush=True)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
