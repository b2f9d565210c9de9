"""The scale section's figures for the table (medians over runs, ratios of this run) and
the capacity estimate for Meta's throughput tiers."""

from __future__ import annotations

import math
import statistics
from typing import Any

from bench.report import Report
from bench.stats import percentile

TIERS = (80, 250, 1000)  # Meta: messages per second per business number
PROJECT_PROCESSES = ("rasa-1", "rasa-2", "actions", "receiver", "nginx")
TARGET_UTILISATION = 0.6  # plan cores for 60 % busy at the tier's rate


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _cpu(runs: list[dict], processes=PROJECT_PROCESSES) -> dict[str, float]:
    names = {n for r in runs for n in r["cpu_ms_per_message"]} & set(processes)
    return {n: statistics.median(r["cpu_ms_per_message"].get(n, 0.0) for r in runs)
            for n in sorted(names)}


def _per_message(runs: list[dict], key: str) -> float:
    return statistics.median(r["per_message"][key] for r in runs)


def summarize(raw: dict[str, Any], report: Report, answer_messages: float) -> dict[str, Any]:
    closed, ladders = raw["closed_loop"], raw["ladder"]
    n = len(closed["starter"])
    figures: dict[str, Any] = {}
    for name, runs in closed.items():
        report.line(f"8  closed loop 40×4 msgs, 20 at a time: {name} (median of {n})",
                    f"{_median(runs, 'throughput'):.1f} msg/s, p95 {_median(runs, 'p95_seconds'):.2f} s, "
                    f"median {_median(runs, 'median_seconds'):.2f} s, failures "
                    f"{sum(r['failures'] for r in runs)}")
    starter = _median(closed["starter"], "throughput")
    for name in ("webhook-1", "webhook-2", "rest-1"):
        report.ratio(f"closed_loop_{name}_over_starter",
                     f"8  ratio closed loop {name} / Rasa starter bot",
                     _median(closed[name], "throughput"), starter)
    for name, runs in ladders.items():
        rates = [r["sustained_rate"] for r in runs]
        figures[f"sustained_{name}"] = statistics.median(rates)
        report.line(f"8  sustained msg/s at p95 ≤ 1 s: {name} (median of {len(rates)})",
                    f"{statistics.median(rates):.0f} (runs: {', '.join(f'{r:.0f}' for r in rates)})")
    report.ratio("sustained_2_over_1", "8  ratio sustained 2 instances / 1 instance",
                 figures["sustained_webhook-2"], figures["sustained_webhook-1"])
    report.ratio("sustained_webhook_over_rest", "8  ratio sustained webhook / REST (1 instance)",
                 figures["sustained_webhook-1"], figures["sustained_rest-1"])

    for name in ("webhook-1", "webhook-2", "rest-1"):
        cpu = _cpu(closed[name])
        figures[f"cpu_{name}"] = cpu
        report.line(f"8  CPU ms per message, {name}",
                    f"{sum(cpu.values()):.1f} (" + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
                    + ")")
    starter_cpu = _cpu(closed["starter"], ("starter-bot",))
    report.line("8  CPU ms per message, Rasa starter bot", f"{sum(starter_cpu.values()):.1f}")
    channel = (figures["cpu_webhook-1"].get("rasa-1", 0) + figures["cpu_webhook-1"].get("rasa-2", 0)
               - figures["cpu_rest-1"].get("rasa-1", 0) - figures["cpu_rest-1"].get("rasa-2", 0))
    report.line("8  WhatsApp channel's own CPU per message (webhook − REST, Rasa processes)",
                f"{channel:.1f} ms")
    for name in ("webhook-1", "webhook-2"):
        runs = closed[name]
        figures[f"pg_{name}"] = _per_message(runs, "pg_transactions")
        figures[f"redis_{name}"] = _per_message(runs, "redis_commands")
        report.line(f"8  PostgreSQL transactions / rows written / Redis commands per message, {name}",
                    f"{figures[f'pg_{name}']:.1f} / {_per_message(runs, 'pg_rows_written'):.1f} / "
                    f"{figures[f'redis_{name}']:.1f}")

    for name, acks in raw.get("ack_seconds", {}).items():
        if acks:
            report.line(f"8  webhook acknowledgement during closed loops and ladders: {name}",
                        f"p50 {1000 * percentile(acks, 50):.1f} / p95 "
                        f"{1000 * percentile(acks, 95):.1f} / p99 {1000 * percentile(acks, 99):.1f}"
                        f" ms (n = {len(acks)})")

    long_runs = raw["long_conversation"]
    report.line("8  turn latency, messages 2–11 / 191–200 of one conversation (REST, medians)",
                f"{1000 * _median(long_runs, 'median_2_to_11_seconds'):.0f} ms / "
                f"{1000 * _median(long_runs, 'median_191_to_200_seconds'):.0f} ms")
    report.ratio("turn_200_over_2", "8  ratio turn latency 191–200 / 2–11 (median of runs)",
                 _median(long_runs, "ratio"), 1.0)

    rss = raw["rss_bytes"]
    report.line("8  RSS: Rasa defaults (rasa-1) / tuned (rasa-2) / starter bot / actions",
                " / ".join(f"{rss.get(k, 0) / 2**20:.0f} MB"
                           for k in ("rasa-1", "rasa-2", "starter-bot", "actions")))
    for part, ms in raw["profile"]["per_turn_ms"].items():
        report.line(f"8  profile, per turn: {part}", f"{ms:.1f} ms")

    capacity = capacity_table(figures, rss, answer_messages)
    figures["capacity"] = capacity
    return figures


def capacity_table(figures: dict[str, Any], rss: dict[str, int],
                   answer_messages: float) -> list[dict[str, Any]]:
    """Per Meta tier: her messages per second (the tier's outbound rate divided by the
    messages in an average answer), then from the measured CPU per message (2 instances
    behind nginx): Rasa instances (one core each at most: a Rasa process runs its turns in one
    Python thread), cores for Rasa + action server + nginx, memory, PostgreSQL transactions
    and Redis commands per second. Planned for ``TARGET_UTILISATION`` busy."""
    cpu = figures["cpu_webhook-2"]
    rasa_ms = sum(v for k, v in cpu.items() if k.startswith("rasa-"))
    all_ms = sum(cpu.values())
    instance_rss = min(v for k, v in rss.items() if k.startswith("rasa-"))
    rows = []
    for tier in TIERS:
        turns = tier / max(1.0, answer_messages)
        instances = math.ceil(turns * rasa_ms / 1000 / TARGET_UTILISATION)
        rows.append({
            "tier_msgs_per_s": tier, "her_msgs_per_s": round(turns, 1),
            "rasa_instances": instances,
            "cores_rasa_actions_nginx": math.ceil(turns * all_ms / 1000 / TARGET_UTILISATION),
            "memory_gb": round((instances * instance_rss + rss.get("actions", 0)) / 2**30, 1),
            "postgres_tx_per_s": round(turns * figures["pg_webhook-2"]),
            "redis_cmds_per_s": round(turns * figures["redis_webhook-2"]),
        })
    return rows


def capacity_lines(rows: list[dict[str, Any]]) -> list[str]:
    out = ["", "Capacity estimate (from this run; README explains the arithmetic):",
           f"{'Meta tier msg/s':>15} {'her msg/s':>9} {'Rasa inst.':>10} {'cores':>6} "
           f"{'memory GB':>9} {'PG tx/s':>8} {'Redis cmd/s':>11}"]
    for r in rows:
        out.append(f"{r['tier_msgs_per_s']:>15} {r['her_msgs_per_s']:>9} "
                   f"{r['rasa_instances']!s:>10} {r['cores_rasa_actions_nginx']:>6} "
                   f"{r['memory_gb']:>9} {r['postgres_tx_per_s']:>8} {r['redis_cmds_per_s']:>11}")
    return out
