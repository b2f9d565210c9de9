"""The handoff's share of the retention purge (``store/retention.py``): the content of tickets
closed before the horizon (their anonymous statistics rows stay), the people-seen digests,
the details of old audit entries (the hash chain survives it) and processed escalation
decisions."""

from __future__ import annotations

from handoff.escalation_log import EscalationLog
from handoff.queue import HandoffQueue
from handoff.stats import shared_stats
from store.retention import Horizon, register


@register("handoff_queue")
def purge_queue(horizon: Horizon) -> int:
    return (HandoffQueue.from_env().purge_closed(horizon.cutoff)
            + shared_stats().purge_seen(horizon.now_naive))


@register("escalation_log")
def purge_escalations(horizon: Horizon) -> int:
    return EscalationLog(HandoffQueue.from_env().engine).purge(horizon.cutoff)


@register("audit_details")
def purge_audit_details(horizon: Horizon) -> int:
    return HandoffQueue.from_env().purge_audit_details(horizon.cutoff)
