"""The handoff's states and roles, one home each.

Values are the strings stored in the database, so an enum member compares equal to its stored
value (``TicketStatus.WAITING == "waiting"``) and old rows read back unchanged. Spanish labels
for people live in ``console/textos.yml``, not here.
"""

from __future__ import annotations

from enum import Enum


class TicketStatus(str, Enum):
    WAITING = "waiting"  # in the queue, nobody holds it
    ASSIGNED = "assigned"  # a specialist holds it; the bot is paused
    CLOSED = "closed"  # handed back to the bot

    def __str__(self) -> str:
        return self.value

    @property
    def is_open(self) -> bool:
        return self is not TicketStatus.CLOSED


OPEN_STATUSES = (TicketStatus.WAITING, TicketStatus.ASSIGNED)


class Role(str, Enum):
    SPECIALIST = "specialist"  # answers conversations
    SUPERVISOR = "supervisor"  # casework, plus the live view, reports, accounts and audit
    TRAINER = "trainer"  # teaches the assistant; never sees casework

    def __str__(self) -> str:
        return self.value

    @property
    def does_casework(self) -> bool:
        return self in (Role.SPECIALIST, Role.SUPERVISOR)

    @property
    def supervises(self) -> bool:
        return self is Role.SUPERVISOR

    @classmethod
    def parse(cls, value: str | None) -> Role | None:
        try:
            return cls(str(value or "").strip().lower())
        except ValueError:
            return None


class Outcome(str, Enum):
    """What came of a case, chosen by the specialist when she closes it (feeds the reports)."""

    ORIENTATION = "orientacion"  # orientation or information given
    REFERRED = "derivada_centro"  # referred to a Centro de la Mujer or another service
    EMERGENCY_SERVICES = "emergencia_derivada"  # emergency passed to 133 / 149 / 131
    STOPPED_ANSWERING = "sin_respuesta"  # she stopped answering
    NOT_VIOLENCE = "no_violencia"  # not a gender-based violence case
    OTHER = "otro"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: str | None) -> Outcome | None:
        try:
            return cls(str(value or "").strip())
        except ValueError:
            return None
