"""Manage console accounts.

    python -m console.manage create-agent --username ana --role specialist|supervisor|trainer [--password P]
    python -m console.manage set-password --username ana [--password P]
    python -m console.manage deactivate --username ana
    python -m console.manage clear-login-failures --username ana
    python -m console.manage reset-totp --username sara
    python -m console.manage list-agents

Without --password: prompts on a terminal, otherwise generates one and prints it once.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from console.config import Settings
from console.security import MIN_PASSWORD_LENGTH, generate_password, hash_password
from console.sessions import SessionStore
from console.totp import TotpStore
from handoff.queue import HandoffQueue
from handoff.states import Role


def _password(given: str | None) -> tuple[str, bool]:
    """The password to set and whether it was generated (and must be shown)."""
    if given is not None:
        return given, False
    if sys.stdin.isatty():
        first = getpass.getpass("Contraseña (vacía = generar una): ")
        if first:
            if getpass.getpass("Repite la contraseña: ") != first:
                raise SystemExit("Las contraseñas no coinciden.")
            return first, False
    return generate_password(), True


def _check(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise SystemExit(f"La contraseña debe tener al menos {MIN_PASSWORD_LENGTH} caracteres.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m console.manage")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-agent", help="create a specialist or supervisor")
    create.add_argument("--username", required=True)
    create.add_argument("--role", choices=[r.value for r in Role], default=Role.SPECIALIST.value)
    create.add_argument("--password")
    setpw = sub.add_parser("set-password", help="set a new password (ends open sessions)")
    setpw.add_argument("--username", required=True)
    setpw.add_argument("--password")
    deactivate = sub.add_parser("deactivate", help="block an account (ends open sessions)")
    deactivate.add_argument("--username", required=True)
    clear = sub.add_parser("clear-login-failures",
                           help="forget her failed logins (no more waiting to log in)")
    clear.add_argument("--username", required=True)
    totp = sub.add_parser("reset-totp", help="remove her second factor (she enrols again)")
    totp.add_argument("--username", required=True)
    sub.add_parser("list-agents")
    args = parser.parse_args(argv)

    queue = HandoffQueue.from_env()
    if args.command == "list-agents":
        for agent in queue.list_agents(active_only=False):
            state = "activa" if agent.active else "inactiva"
            print(f"{agent.username}\t{agent.role.value}\t{state}\t{agent.last_seen_at or '-'}")
        return 0

    username = args.username.strip()
    existing = queue.agent_by_username(username)
    if args.command == "create-agent":
        if not username or len(username) > 64:
            raise SystemExit("Usuario inválido.")
        if existing is not None:
            raise SystemExit(f"Ya existe el usuario {username}.")
        password, generated = _password(args.password)
        _check(password)
        queue.create_agent(username, hash_password(password), args.role)
        print(f"Cuenta creada: {username} ({args.role}).")
    else:
        if existing is None:
            raise SystemExit(f"No existe el usuario {username}.")
        sessions = SessionStore(queue.engine, Settings.from_env().secret)
        if args.command == "clear-login-failures":
            sessions.clear_failures(username)
            queue.audit("login_failures_cleared", None, detail=f"agent={existing.id} cli")
            print(f"Intentos fallidos olvidados: {username}.")
            return 0
        if args.command == "reset-totp":
            TotpStore(queue.engine).remove(existing.id)
            queue.audit("totp_removed", None, detail=f"agent={existing.id} cli")
            print(f"Verificación en dos pasos quitada: {username}.")
            return 0
        if args.command == "deactivate":
            queue.set_active(existing.id, False)
            sessions.delete_for_agent(existing.id)
            print(f"Cuenta desactivada: {username}.")
            return 0
        password, generated = _password(args.password)
        _check(password)
        queue.set_password(existing.id, hash_password(password))
        sessions.delete_for_agent(existing.id)
        print(f"Contraseña cambiada: {username}.")
    if generated:
        print(f"Contraseña (se muestra solo esta vez): {password}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
