"""Service levels (when a waiting case is late) and capacity-aware assignment."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from handoff.assignment import Candidate, choose_agent, plan
from handoff.priority import EMERGENCY, HIGH_RISK, PERSON, RISK
from handoff.queue import AgentLoad, TicketView
from handoff.sla import SlaPolicy
from handoff.states import TicketStatus

T0 = datetime(2026, 3, 8, 12, 0, 0)


def ticket(id_: int, priority: int, created: datetime = T0, status=TicketStatus.WAITING,
           escalated: datetime | None = None) -> TicketView:
    return TicketView(id=id_, conversation_id=f"c{id_}", status=status, level="risk",
                      priority=priority, reason="", safe_contact=None, screening=None,
                      agent_id=None, agent_username=None, created_at=created, assigned_at=None,
                      closed_at=None, escalated_at=escalated)


# ----------------------------------------------------------------------------- SLA
@pytest.mark.parametrize("priority, minutes", [(EMERGENCY, 2), (HIGH_RISK, 10), (RISK, 30)])
def test_default_limits_breach_strictly_after_the_limit(priority: int, minutes: int) -> None:
    sla = SlaPolicy()
    waiting = ticket(1, priority)
    assert sla.breach_at(waiting) == T0 + timedelta(minutes=minutes)
    assert not sla.breached(waiting, T0 + timedelta(minutes=minutes))
    assert sla.breached(waiting, T0 + timedelta(minutes=minutes, seconds=1))


def test_a_request_for_a_person_has_no_limit_by_default() -> None:
    sla = SlaPolicy()
    assert sla.breach_at(ticket(1, PERSON)) is None
    assert not sla.breached(ticket(1, PERSON), T0 + timedelta(days=2))


def test_only_waiting_cases_can_be_late() -> None:
    sla = SlaPolicy()
    held = ticket(1, EMERGENCY, status=TicketStatus.ASSIGNED)
    assert sla.breach_at(held) is None and not sla.breached(held, T0 + timedelta(hours=1))


def test_an_escalated_case_counts_from_its_escalation() -> None:
    sla = SlaPolicy()
    escalated = ticket(1, EMERGENCY, escalated=T0 + timedelta(minutes=25))
    assert sla.breach_at(escalated) == T0 + timedelta(minutes=27)
    assert not sla.breached(escalated, T0 + timedelta(minutes=26))


def test_limits_from_the_environment() -> None:
    sla = SlaPolicy.from_env({"SLA_EMERGENCY_MINUTES": "0,5", "SLA_HIGH_RISK_MINUTES": "",
                              "SLA_RISK_MINUTES": "no sé", "SLA_PERSON_MINUTES": "60"})
    assert sla.limit_for(EMERGENCY) == timedelta(seconds=30)
    assert sla.limit_for(HIGH_RISK) is None  # empty: no limit
    assert sla.limit_for(RISK) == timedelta(minutes=30)  # unreadable: the default
    assert sla.limit_for(PERSON) == timedelta(hours=1)
    assert SlaPolicy.from_env({"SLA_EMERGENCY_MINUTES": "0"}).limit_for(EMERGENCY) is None
    assert SlaPolicy.from_env({"SLA_EMERGENCY_MINUTES": "-3"}).limit_for(EMERGENCY) == \
        timedelta(minutes=2)


# ---------------------------------------------------------------------- assignment
def free(agent_id: int, open_: int = 0, emergencies: int = 0) -> Candidate:
    return Candidate(agent_id, AgentLoad(open_, emergencies))


def test_the_least_loaded_specialist_below_the_cap_gets_the_case() -> None:
    chosen = choose_agent(RISK, [free(1, 2), free(2, 1), free(3, 3)], cap=3)
    assert chosen is not None and chosen.agent_id == 2
    assert choose_agent(RISK, [free(1, 3), free(2, 4)], cap=3) is None


def test_nobody_gets_a_second_emergency_while_someone_with_room_has_none() -> None:
    busy_with_emergency = free(1, open_=1, emergencies=1)
    more_cases_no_emergency = free(2, open_=2)
    chosen = choose_agent(EMERGENCY, [busy_with_emergency, more_cases_no_emergency], cap=3)
    assert chosen is not None and chosen.agent_id == 2
    # a risk case still goes to the least loaded
    assert choose_agent(RISK, [busy_with_emergency, more_cases_no_emergency], 3).agent_id == 1
    # when everyone with room holds an emergency, the least loaded takes the next one
    both = [free(1, 2, 1), free(2, 1, 1)]
    assert choose_agent(EMERGENCY, both, cap=3).agent_id == 2


def test_plan_serves_emergencies_first_then_the_oldest_and_respects_the_cap() -> None:
    old_risk = ticket(1, RISK, T0)
    new_risk = ticket(2, RISK, T0 + timedelta(minutes=5))
    emergency = ticket(3, EMERGENCY, T0 + timedelta(minutes=9))
    person = ticket(4, PERSON, T0 - timedelta(hours=1))
    pairs = plan([person, new_risk, old_risk, emergency], [free(10), free(11, 1)], cap=2)
    assert [t for t, _ in pairs] == [3, 1, 2]  # the cap (2 each) stops before the person
    assert pairs[0] == (3, 10)  # the emergency to the free specialist
    loads: dict[int, int] = {}
    for _, agent in pairs:
        loads[agent] = loads.get(agent, 0) + 1
    assert loads[10] <= 2 and loads[11] <= 1


def test_plan_never_gives_two_emergencies_to_one_while_another_is_free() -> None:
    emergencies = [ticket(i, EMERGENCY, T0 + timedelta(seconds=i)) for i in range(1, 4)]
    pairs = plan(emergencies, [free(10), free(11), free(12)], cap=3)
    assert sorted(agent for _, agent in pairs) == [10, 11, 12]


def test_plan_with_nobody_online_assigns_nothing() -> None:
    assert plan([ticket(1, EMERGENCY)], [], cap=3) == []
    assert plan([], [free(1)], cap=3) == []


def test_candidates_are_not_changed_by_planning() -> None:
    candidate = free(1)
    plan([ticket(1, RISK)], [candidate], cap=3)
    assert candidate == replace(candidate)  # frozen, and still empty
    assert candidate.load == AgentLoad(0, 0)
