"""Casework: what happens when a specialist presses a button, across the queue and Rasa.

Every operation that touches both does its steps in one fixed order and, when a later step
fails, undoes the earlier one (compensation) and says so. Read the method of the button:

- «Tomar caso»        → ``claim``    (queue claim, then pause the bot; pause fails → release)
- a supervisor assigns → ``assign``  (the same, for someone else; also automatic assignment)
- «Enviar»            → ``reply``    (rules, then Rasa, then the delivery report)
- «Cerrar caso»       → ``close``    (outcome, goodbye, resume the bot, close; close fails →
                                      pause the bot again)
- «Enviar seguimiento» → ``follow_up`` (only a WhatsApp template, only where she said it is safe)
- «Borrar datos»      → ``erase``    (supervisors, confirmed: ``store.erasure.erase``)
- «Devolver», «Transferir», notes: one step in the queue each.

Every method returns a ``Result`` whose ``message`` is a key of ``mensajes`` in
``console/textos.yml``. Nothing here blocks the event loop: the queue is an ``InThreads``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from console.contact import (
    FOLLOW_UP_SOURCE,
    ContactFacts,
    ContactState,
    SafeAnswer,
    contact_state,
    follow_up_sent,
    left_during_case,
    no_contact_at,
    safe_answer,
    wrote_after,
)
from console.delivery import REF_KEY, Delivery, DeliveryReport, DeliveryState
from console.transcript import (
    Line,
    case_events,
    epoch,
    iso,
    last_user_timestamp,
    region_in,
    transcript_lines,
)
from handoff.agents import AgentView
from handoff.queue import FORGOTTEN, TicketView
from handoff.rasa_api import RasaAPI, RasaError
from handoff.states import Outcome, TicketStatus
from store.erasure import ErasureSource, erase
from training.outcomes import contradicted
from training.review import queue_closed_case

logger = logging.getLogger(__name__)

MAX_REPLY = 4000
MAX_NOTE = 2000
GOODBYE_RESPONSE = "utter_cierre_especialista"  # in domain.yml: trainers edit the text
WINDOW_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Result:
    message: str
    ok: bool = True
    ticket: TicketView | None = None
    code: int | None = None  # Meta's error code when a message did not leave


@dataclass(frozen=True)
class CaseReading:
    """The case as the conversation page shows it."""

    lines: list[Line] = field(default_factory=list)
    contact: ContactState | None = None
    rasa_error: bool = False
    region: str | None = None
    identity_changed_at: str | None = None  # ISO time: her security code changed (open case)


@dataclass(frozen=True)
class Template:
    name: str | None
    language: str = "es"


def may_work(ticket: TicketView, agent: AgentView) -> bool:
    """Reply, close, transfer, notes: the holder, or any supervisor."""
    if not agent.does_casework:
        return False
    return ticket.held_by(agent.id) or agent.is_supervisor


def may_read(ticket: TicketView, agent: AgentView) -> bool:
    """Reading: also a waiting case before claiming it (audited), and a case she closed
    (for the follow-up)."""
    if not agent.does_casework:
        return False
    return (may_work(ticket, agent) or ticket.status is TicketStatus.WAITING
            or (ticket.status is TicketStatus.CLOSED and ticket.agent_id == agent.id))


class Casework:
    def __init__(
        self,
        queue: Any,  # InThreads[HandoffQueue]
        rasa: RasaAPI,
        delivery: Delivery,
        rules: Any,  # triage.levels.TriageMap
        texts: Any,  # console.texts.Texts
        output_channel: str = "whatsapp",
        template: Template | None = None,
        window_checker: Callable[[str], Awaitable[bool | None]] | None = None,
        region_of_comuna: Callable[[str], str | None] | None = None,
        identity_changes: Callable[[str, float], Awaitable[list[Any]]] | None = None,
    ) -> None:
        self.queue = queue
        self.rasa = rasa
        self.delivery = delivery
        self.rules = rules
        self.texts = texts
        self.output_channel = output_channel
        self.template = template or Template(None)
        self.window_checker = window_checker
        self.region_of_comuna = region_of_comuna
        self.identity_changes = identity_changes

    # ------------------------------------------------------------------ reading
    async def _window_open(self, ticket: TicketView, events: list[dict[str, Any]]) -> bool | None:
        if self.window_checker is not None:
            try:
                result = await self.window_checker(ticket.conversation_id)
                if result is not None:
                    return bool(result)
            except Exception:  # noqa: BLE001
                logger.exception("is_window_open failed; using the tracker instead.")
        last = last_user_timestamp(events)
        if last is None:
            return None
        return (time.time() - last) < WINDOW_SECONDS

    async def _facts(self, ticket: TicketView, events: list[dict[str, Any]] | None
                     ) -> ContactFacts:
        stored = await self.queue.no_contact_since(ticket.conversation_id)
        configured = bool(self.template.name)
        if events is None:
            return ContactFacts(SafeAnswer.from_ticket(ticket.safe_contact), None,
                                stored is not None, False, False, False, configured,
                                tracker_read=False)
        said = no_contact_at(events, epoch(stored) if stored else None)
        answer = safe_answer(events)
        if answer.safe is None:
            answer = SafeAnswer.from_ticket(ticket.safe_contact)
        return ContactFacts(
            answer=answer,
            window_open=await self._window_open(ticket, events),
            no_contact=said is not None,
            wrote_since_no_contact=said is not None and wrote_after(events, said),
            left=left_during_case(events, ticket.created_at),
            follow_up_done=follow_up_sent(events, ticket.created_at),
            template_configured=configured,
        )

    async def _events(self, ticket: TicketView) -> list[dict[str, Any]]:
        tracker = await self.rasa.tracker(ticket.conversation_id, all_events=True)
        return case_events(tracker.get("events") or [], ticket.created_at)

    async def identity_changed_at(self, ticket: TicketView) -> str | None:
        """When her WhatsApp security code last changed during this open case (a new phone,
        a reinstall, or her WhatsApp in other hands), or None."""
        if self.identity_changes is None or not ticket.is_open:
            return None
        try:
            changes = await self.identity_changes(ticket.conversation_id,
                                                  epoch(ticket.created_at))
        except Exception:  # noqa: BLE001 - a warning must never break the page
            logger.exception("Could not read identity changes for ticket %s.", ticket.id)
            return None
        return iso(max(c.received_at for c in changes)) if changes else None

    async def read(self, ticket: TicketView) -> CaseReading:
        """Transcript, what she answered about contact, may we write now, and whether her
        security code changed."""
        changed = await self.identity_changed_at(ticket)
        try:
            events = await self._events(ticket)
        except RasaError as error:
            logger.error("Could not load tracker for ticket %s: %s", ticket.id, error)
            return CaseReading(contact=contact_state(await self._facts(ticket, None)),
                               rasa_error=True, identity_changed_at=changed)
        return CaseReading(
            lines=transcript_lines(events, self.rules, self.texts),
            contact=contact_state(await self._facts(ticket, events)),
            region=region_in(events, self.region_of_comuna),
            identity_changed_at=changed,
        )

    async def open_for_reading(self, ticket_id: int, agent: AgentView,
                               closed_reason: str | None = None) -> TicketView | None:
        """The ticket if this agent may read it; each opening is audited (reading a waiting
        case, too). A closed case opens only with a reason, which goes into the audit."""
        ticket = await self.queue.get(ticket_id)
        if ticket is None or not may_read(ticket, agent):
            return None
        detail = None
        if ticket.status is TicketStatus.CLOSED:
            if not closed_reason:
                return None
            action, detail = "closed_case_read", f"motivo: {closed_reason}"
        elif ticket.status is TicketStatus.WAITING and not may_work(ticket, agent):
            action = "conversation_read_waiting"
        else:
            action = "conversation_viewed"
        await self.queue.audit(action, agent.id, ticket.id, detail=detail)
        return ticket

    # --------------------------------------------------------------- claim/assign
    async def _silence_bot(self, ticket: TicketView, by: int | None) -> str | None:
        """Pause the bot if it still talks in this conversation; the error, or None."""
        # An emergency ticket is opened before the bot's questions, unpaused: once a
        # specialist has the case the bot must not talk over her.
        try:
            tracker = await self.rasa.tracker(ticket.conversation_id)
            if not tracker.get("paused"):
                await self.rasa.pause(ticket.conversation_id)
                await self.queue.audit("conversation_paused", by, ticket.id)
            region = region_in(tracker.get("events") or [], self.region_of_comuna)
            if region and not ticket.region:
                await self.queue.set_region(ticket.id, region)
        except RasaError as error:
            return str(error)
        return None

    async def _undo_take(self, ticket: TicketView, holder: int, error: str) -> None:
        logger.error("Pausing the bot for ticket %s failed (%s): claim undone.", ticket.id, error)
        await self.queue.audit("pause_failed", holder, ticket.id, error[:100])
        if await self.queue.release(ticket.id, holder, action="claim_undone") is None:
            logger.error("Ticket %s changed hands meanwhile: nothing to undo.", ticket.id)

    async def claim(self, ticket_id: int, agent: AgentView) -> Result:
        """«Tomar caso»: 1. claim in the queue (atomic; one winner); 2. pause the bot if it
        still talks to her. If 2 fails the claim is released (the case keeps its place)."""
        if not agent.does_casework:
            return Result("not_your_role", False)
        ticket = await self.queue.claim(ticket_id, agent.id)
        if ticket is None:
            return Result("claim_lost", False)
        if (error := await self._silence_bot(ticket, agent.id)) is not None:
            await self._undo_take(ticket, agent.id, error)
            return Result("pause_failed", False, ticket)
        return Result("claimed", True, ticket)

    async def assign(self, ticket_id: int, to_agent: int, by: AgentView | None) -> Result:
        """A supervisor (``by``) or the automatic assignment (``by`` None) gives a case to a
        specialist. Waiting: assign, then pause the bot (undone if the pause fails).
        Already assigned: reassign (the bot is already paused)."""
        ticket = await self.queue.get(ticket_id)
        if ticket is None or not ticket.is_open:
            return Result("not_allowed", False)
        if ticket.status is TicketStatus.ASSIGNED:
            if by is None or not by.is_supervisor:
                return Result("not_allowed", False)
            moved = await self.queue.reassign(ticket_id, by.id, to_agent)
            return Result("reassigned", True, moved) if moved else Result("bad_agent", False)
        target = await self.queue.get_agent(to_agent)
        if target is None or not target.active or not target.does_casework:
            return Result("bad_agent", False)
        given = await self.queue.assign(ticket_id, to_agent, by.id if by else None)
        if given is None:
            return Result("claim_lost", False)
        if (error := await self._silence_bot(given, by.id if by else None)) is not None:
            await self._undo_take(given, to_agent, error)
            return Result("pause_failed", False, given)
        return Result("assigned", True, given)

    # --------------------------------------------------------- one-step actions
    async def release(self, ticket_id: int, agent: AgentView) -> Result:
        """«Devolver a la cola»: the bot stays paused; she keeps her place."""
        ticket = await self.queue.release(ticket_id, agent.id)
        return Result("released", True, ticket) if ticket else Result("not_allowed", False)

    async def transfer(self, ticket_id: int, agent: AgentView, to_agent: int) -> Result:
        """«Transferir» (the holder) or «Reasignar» (a supervisor, any open case)."""
        ticket = await self.queue.get(ticket_id)
        if ticket is None or not may_work(ticket, agent):
            return Result("not_allowed", False)
        if agent.is_supervisor and not ticket.held_by(agent.id):
            return await self.assign(ticket_id, to_agent, agent)
        moved = await self.queue.transfer(ticket_id, agent.id, to_agent)
        return Result("transferred", True, moved) if moved else Result("bad_agent", False)

    async def add_note(self, ticket_id: int, agent: AgentView, text: str) -> Result:
        ticket = await self.queue.get(ticket_id)
        if ticket is None or not may_work(ticket, agent):
            return Result("not_allowed", False)
        text = text.strip()
        if not text:
            return Result("empty", False, ticket)
        await self.queue.add_note(ticket_id, agent.id, text[:MAX_NOTE])
        return Result("note", True, ticket)

    # -------------------------------------------------------------------- reply
    async def _send(self, ticket: TicketView, agent: AgentView, text: str | None,
                    source: str = "console", data: dict[str, Any] | None = None
                    ) -> DeliveryReport:
        ref = self.delivery.new_ref()
        await self.rasa.post_bot_message(
            ticket.conversation_id, text, self.output_channel,
            {"source": source, "agent": agent.username, REF_KEY: ref}, data)
        return await self.delivery.report(ticket.conversation_id, ref)

    async def reply(self, ticket_id: int, agent: AgentView, text: str, canned: Any = None,
                    confirm_unsafe: bool = False) -> Result:
        """«Enviar»: 1. she holds the case; 2. the text; 3. the contact rules (24-hour window,
        «no me escriban», her answer about safety: confirmation needed); 4. Rasa sends it
        through WhatsApp; 5. what the delivery adapter knows; 6. first reply and audit."""
        ticket = await self.queue.get(ticket_id)
        if ticket is None or not ticket.held_by(agent.id):
            return Result("not_allowed", False)
        text = (text or "").strip() or (canned.text if canned else "")
        if not text:
            return Result("empty", False, ticket)
        if len(text) > MAX_REPLY:
            return Result("too_long", False, ticket)
        try:
            decision = contact_state(await self._facts(ticket, await self._events(ticket))).reply
            if not decision.allowed:
                await self.queue.audit("reply_refused", agent.id, ticket.id, decision.reason)
                return Result("no_contact" if decision.reason == "no_contact"
                              else "window_closed", False, ticket)
            if decision.needs_confirmation and not confirm_unsafe:
                return Result("confirm_unsafe", False, ticket)
            report = await self._send(ticket, agent, text)
        except RasaError as error:
            logger.error("Reply for ticket %s failed: %s", ticket.id, error)
            await self.queue.audit("reply_failed", agent.id, ticket.id, str(error)[:100])
            return Result("rasa_down", False, ticket)
        return await self._reported(ticket, agent, report,
                                    f"canned={canned.id}" if canned else f"chars={len(text)}")

    async def _reported(self, ticket: TicketView, agent: AgentView, report: DeliveryReport,
                        detail: str) -> Result:
        if report.state is DeliveryState.NOT_SENT:
            await self.queue.audit("reply_failed", agent.id, ticket.id,
                                   f"{detail} whatsapp_error={report.error_code}")
            return Result("not_sent", False, ticket, report.error_code)
        await self.queue.record_first_reply(ticket.id)
        await self.queue.audit("reply_sent", agent.id, ticket.id,
                               f"{detail} state={report.state.value}")
        return Result(report.state.value, True, ticket)

    # -------------------------------------------------------------------- close
    async def close(self, ticket_id: int, agent: AgentView, outcome: str | None,
                    tags: list[str], send_goodbye: bool) -> Result:
        """«Cerrar caso», in this order:

        1. she may close it (the holder, or a supervisor) and chose an outcome;
        2. read the conversation from Rasa (nothing has changed if Rasa is down);
        3. if «Enviar despedida» is checked and writing to her is allowed (24-hour window,
           no «no me escriban»), send ``utter_cierre_especialista`` from the served domain;
        4. resume the bot, ending a form she left unanswered;
        5. close the ticket with outcome, tags and region (statistics row);
        6. if 5 fails while the ticket is still open, pause the bot again (compensation);
        7. an outcome that contradicts the assistant's reading sends her words, redacted and
           unlinked, to the trainers' review queue (training/review.py).
        """
        ticket = await self.queue.get(ticket_id)
        if ticket is None or not ticket.is_open or not may_work(ticket, agent):
            return Result("not_allowed", False)
        chosen = Outcome.parse(outcome)
        if chosen is None:
            return Result("outcome_needed", False, ticket)
        try:
            tracker = await self.rasa.tracker(ticket.conversation_id, all_events=True)
            events = case_events(tracker.get("events") or [], ticket.created_at)
            if send_goodbye:
                await self._goodbye(ticket, agent, events)
            # a form she left unanswered must not come back after the bot's next answer
            await self.rasa.resume(ticket.conversation_id,
                                   end_form=bool((tracker.get("active_loop") or {}).get("name")))
        except RasaError as error:
            logger.error("Closing ticket %s failed: %s", ticket.id, error)
            await self.queue.audit("close_failed", agent.id, ticket.id, str(error)[:100])
            return Result("rasa_down", False, ticket)
        await self.queue.audit("conversation_resumed", agent.id, ticket.id)
        region = region_in(events, self.region_of_comuna)
        if region and not ticket.region:
            await self.queue.set_region(ticket.id, region)
        closed = await self.queue.close(ticket_id, agent.id, chosen, tags)
        if closed is None:
            return await self._undo_resume(ticket, agent)
        await _teach_from(events, ticket.level, chosen)
        return Result("closed", True, closed)

    async def _goodbye(self, ticket: TicketView, agent: AgentView,
                       events: list[dict[str, Any]]) -> None:
        decision = contact_state(await self._facts(ticket, events)).reply
        if not decision.allowed:
            await self.queue.audit("reply_refused", agent.id, ticket.id,
                                   f"goodbye {decision.reason}")
            return
        text = await self.rasa.response_text(GOODBYE_RESPONSE)
        report = await self._send(ticket, agent, text)
        action = "reply_failed" if report.state is DeliveryState.NOT_SENT else "goodbye_sent"
        await self.queue.audit(action, agent.id, ticket.id, f"state={report.state.value}")

    async def _undo_resume(self, ticket: TicketView, agent: AgentView) -> Result:
        now = await self.queue.get(ticket.id)
        if now is not None and now.status is TicketStatus.CLOSED:
            return Result("closed", True, now)  # closed meanwhile by a supervisor: consistent
        try:
            await self.rasa.pause(ticket.conversation_id)
            await self.queue.audit("conversation_repaused", agent.id, ticket.id)
        except RasaError as error:
            logger.error("Ticket %s: bot resumed but ticket open, re-pause failed: %s",
                         ticket.id, error)
        return Result("close_inconsistent", False, now)

    # -------------------------------------------------------------------- erase
    async def erase(self, ticket_id: int, agent: AgentView, confirmed: bool) -> Result:
        """«Borrar datos» (supervisors only, after confirming): her tracker, the content of
        her tickets and the channel's rows go; the statistics rows stay; audited per ticket
        (``conversation_erased``). Her tracker is deleted by Rasa after any turn in flight
        (``store/erasure.py``)."""
        ticket = await self.queue.get(ticket_id)
        if ticket is None or not agent.is_supervisor or not agent.active:
            return Result("not_allowed", False)
        if ticket.conversation_id.startswith(FORGOTTEN):
            return Result("already_erased", False, ticket)
        if not confirmed:
            return Result("confirm_erase", False, ticket)
        await asyncio.to_thread(erase, ticket.conversation_id, ErasureSource.SUPERVISOR,
                                agent.id, self.queue.target)
        return Result("erased", True, await self.queue.get(ticket_id))

    # ---------------------------------------------------------------- follow-up
    async def follow_up(self, ticket_id: int, agent: AgentView) -> Result:
        """«Enviar seguimiento»: after 24 hours, only the configured WhatsApp template, only
        where she said it is safe to write to this number and never after «no me escriban»."""
        ticket = await self.queue.get(ticket_id)
        if ticket is None or not agent.does_casework or not (
                agent.is_supervisor or ticket.agent_id == agent.id):
            return Result("not_allowed", False)
        try:
            events = await self._events(ticket)
            decision = contact_state(await self._facts(ticket, events)).follow_up
            if not decision.allowed:
                await self.queue.audit("follow_up_refused", agent.id, ticket.id, decision.reason)
                return Result("follow_up_refused", False, ticket)
            template = {"name": self.template.name,
                        "language": {"code": self.template.language}}
            report = await self._send(ticket, agent, None, FOLLOW_UP_SOURCE,
                                      {"custom": {"whatsapp": {"type": "template",
                                                               "template": template}}})
        except RasaError as error:
            await self.queue.audit("reply_failed", agent.id, ticket.id, str(error)[:100])
            return Result("rasa_down", False, ticket)
        if report.state is DeliveryState.NOT_SENT:
            await self.queue.audit("reply_failed", agent.id, ticket.id,
                                   f"follow_up whatsapp_error={report.error_code}")
            return Result("not_sent", False, ticket, report.error_code)
        await self.queue.audit("follow_up_sent", agent.id, ticket.id,
                               f"state={report.state.value}")
        return Result("follow_up_sent", True, ticket)


async def _teach_from(events: list[dict[str, Any]], level: str, outcome: Outcome) -> None:
    """Close step 7: never fails the close (the review queue is a help, not a duty)."""
    if not contradicted(level, outcome):
        return
    try:
        await asyncio.to_thread(queue_closed_case, events, level, outcome)
    except Exception:  # noqa: BLE001
        logger.exception("Could not queue a contradicted case for review.")
