"""`make bench`: model load and triage throughput in this process, then ONE stack
(action server, Rasa with the WhatsApp and REST channels, console, simulator) on free ports
for the webhook burst, the WhatsApp-vs-REST round trip and the handoff latencies, then the
production topology against Rasa's starter bot (bench/scale.py).
Prints a table (n, median, p99, max, ratios) and writes results/bench.json.

    .venv/bin/python -m bench [--only model,webhook,handoff,scale] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

from bench import burst, handoff_latency, round_trip, scale, triage_speed  # noqa: E402
from bench.model_snapshot import discard, snapshot  # noqa: E402
from bench.report import Report  # noqa: E402
from bench.scale_report import capacity_lines, summarize  # noqa: E402
from stack import Stack, StackPorts  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "asistente.tar.gz"
RESULTS = ROOT / "results" / "bench.json"
# backstops per phase (each wait inside also has its own timeout)
PHASE_TIMEOUT = {"burst": 180.0, "round_trip": 150.0, "handoff": 150.0}


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def measure_model_load(model: Path, report: Report, raw: dict[str, Any]) -> None:
    progress("model: model load and triage throughput (in process, no stack yet)")
    result = asyncio.run(triage_speed.run(model))
    raw["model_load"] = result
    report.timing("import", "2  Rasa + TensorFlow import (first use)", [result["import_seconds"]], "s")
    loads = result["load_seconds"]
    report.timing("load", "2  model load: Triager(model) construction", loads, "s",
                  "each: " + ", ".join(f"{s:.2f}" for s in loads))
    report.timing("first_read", "2  first Triager.read after load", [result["first_read_seconds"]])
    report.timing("triage", f"2  Triager.read per message ({result['messages']} held-out lines)",
                  result["per_message_seconds"])
    report.line(f"2  triage {result['messages']} messages, total",
                f"{result['total_seconds']:.2f} s ({result['messages_per_second']:.0f} msg/s)")


def measure_webhook_burst(stack: Stack, report: Report, raw: dict[str, Any]) -> None:
    progress("webhook: burst of 50 conversations")
    result = asyncio.run(asyncio.wait_for(burst.run(stack), PHASE_TIMEOUT["burst"]))
    raw["webhook_burst"] = result
    n = result["users"]
    report.timing("ack_burst", f"3a webhook ack (200), burst of {n} users", result["ack_seconds"])
    report.timing("burst_first", "3a first reply at simulator, from burst start",
                  result["first_reply_seconds"], "s")
    k = result["replies_per_answer"]
    report.timing("burst_whole", f"3a whole answer ({k} msg{'s' * (k != 1)}), from burst start",
                  result["complete_answer_seconds"], "s")
    report.line("3a acks 200 / answered / answered completely",
                f"{result['acks_200']}/{n}, {result['answered']}/{n}, "
                f"{result['answered_completely']}/{n}")
    last = result["last_complete_answer_seconds"]
    report.line("3a last conversation fully answered after",
                "never (timeout)" if last is None or result["gave_up_after_seconds"]
                else f"{last:.2f} s")


def measure_round_trip(stack: Stack, report: Report, raw: dict[str, Any]) -> None:
    progress("webhook: WhatsApp vs REST round trip (interleaved)")
    result = asyncio.run(asyncio.wait_for(round_trip.run(stack), PHASE_TIMEOUT["round_trip"]))
    raw["round_trip"] = result
    k = result["whatsapp_messages_per_answer"]
    report.timing("wa_ack", "3b WhatsApp: webhook ack (sequential)", result["whatsapp_ack_seconds"])
    report.timing("wa_first", "3b WhatsApp: POST → first message at simulator",
                  result["whatsapp_first_message_seconds"])
    report.timing("wa_whole", f"3b WhatsApp: POST → whole answer ({k} msg{'s' * (k != 1)}) at simulator",
                  result["whatsapp_whole_answer_seconds"])
    report.timing("rest", "3b REST: POST → response with the bot messages", result["rest_seconds"])
    report.ratio("whatsapp_whole_over_rest", "3b ratio WhatsApp whole answer / REST (medians)",
                 report.median("wa_whole"), report.median("rest"))
    report.ratio("whatsapp_first_over_rest", "3b ratio WhatsApp first message / REST (medians)",
                 report.median("wa_first"), report.median("rest"))
    report.line("3b messages per answer: WhatsApp / REST",
                f"{k} / {', '.join(map(str, result['rest_messages_per_answer']))}")


def measure_handoff_latency(stack: Stack, report: Report, raw: dict[str, Any]) -> None:
    progress("handoff: emergency → console queue, specialist reply → phone")
    result = asyncio.run(asyncio.wait_for(handoff_latency.run(stack), PHASE_TIMEOUT["handoff"]))
    raw["handoff_latency"] = result
    poll = result["poll_interval_seconds"] * 1000
    report.timing("ticket_written", "4a emergency /_sim/send → ticket row written",
                  result["ticket_written_seconds"], note="ticket.created_at")
    report.timing("ticket_visible", "4a emergency /_sim/send → ticket in /api/queue",
                  result["ticket_visible_seconds"], note=f"polled every {poll:.0f} ms")
    report.timing("reply_post", "4b reply POST → console's 303", result["reply_post_seconds"])
    report.timing("reply_arrival", "4b reply POST → message at simulator",
                  result["reply_arrival_seconds"])


def measure_production_topology(model: Path, report: Report, raw: dict[str, Any], repeats: int) -> None:
    progress("production topology (2 instances, nginx, PostgreSQL, Redis) and "
             "Rasa's starter bot")
    result = scale.run(model, repeats=repeats)
    raw["production_topology"] = result
    counts = [result["answer_messages"][t] for t in scale.LADDER_TEXTS]
    raw["production_topology"]["figures"] = summarize(result, report, sum(counts) / len(counts))


SECTIONS = ("model", "webhook", "handoff", "scale")


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help="comma-separated sections (default: all)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per median")
    args = parser.parse_args(argv)
    args.only = {s.strip() for s in args.only.split(",") if s.strip()}
    return args


def main() -> int:
    args = arguments()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    if not MODEL.exists():
        print(f"no model at {MODEL}: run `make train`", file=sys.stderr)
        return 2
    began = time.monotonic()
    machine: dict[str, Any] = {
        "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "platform": platform.platform(), "load_average_before": load_average(),
        "shared_machine": True,
    }
    report, raw = Report(), {}
    model, machine["model"] = snapshot(MODEL)
    try:
        return run(model, machine, report, raw, began, args)
    finally:
        discard(model)


def run(model: Path, machine: dict[str, Any], report: Report, raw: dict[str, Any],
        began: float, args: argparse.Namespace) -> int:
    phase_load: dict[str, list[float]] = {}
    if "model" in args.only:
        try:
            measure_model_load(model, report, raw)
        except Exception as error:  # noqa: BLE001 - report and go on with the stack
            report.error("model and triage", repr(error))
        phase_load["after_model"] = load_average()
    if args.only & {"webhook", "handoff"}:
        embedded_phases(model, report, raw, phase_load, args)
    if "scale" in args.only:
        try:
            measure_production_topology(model, report, raw, args.repeats)
        except Exception as error:  # noqa: BLE001
            report.error("production topology", repr(error))
        phase_load["after_production_topology"] = load_average()
    return finish(machine, report, raw, began, phase_load)


def embedded_phases(model: Path, report: Report, raw: dict[str, Any],
                    phase_load: dict[str, list[float]], args: argparse.Namespace) -> None:
    token = os.environ.pop("WHATSAPP_ACCESS_TOKEN", None)  # sandbox: the simulator plays Meta
    stack = Stack(ports=StackPorts.free(), simulator=True, model=model)
    stack.extra_env["DATABASE_URL"] = f"sqlite:///{stack.state_dir / 'helpline.db'}"
    failed = False
    try:
        progress(f"starting the stack (logs in {stack.log_dir})")
        started = time.monotonic()
        stack.start(timeout=180)
        report.line("stack start (all four processes answering)",
                    f"{time.monotonic() - started:.1f} s")
        phase_load["after_stack_start"] = load_average()
        phases = [("webhook burst", "webhook", measure_webhook_burst),
                  ("round trip", "webhook", measure_round_trip),
                  ("handoff latency", "handoff", measure_handoff_latency)]
        for name, section, phase in phases:
            if section not in args.only:
                continue
            try:
                phase(stack, report, raw)
            except Exception as error:  # noqa: BLE001
                failed = True
                report.error(name, repr(error) or type(error).__name__)
            phase_load[f"after_{name.replace(' ', '_')}"] = load_average()
    except Exception as error:  # noqa: BLE001
        failed = True
        report.error("stack", repr(error))
    finally:
        progress("stopping the stack")
        stack.stop()
        if failed or report.errors:
            progress(f"kept the stack's logs in {stack.log_dir}")
        else:
            stack.cleanup()
        if token is not None:
            os.environ["WHATSAPP_ACCESS_TOKEN"] = token


def finish(machine: dict[str, Any], report: Report, raw: dict[str, Any], began: float,
           phase_load: dict[str, list[float]]) -> int:
    machine["load_average_after"] = load_average()
    machine["load_average_by_phase"] = phase_load
    machine["bench_seconds"] = round(time.monotonic() - began, 1)
    before, after = machine["load_average_before"], machine["load_average_after"]
    info = machine["model"]
    header = [
        f"make bench — {machine['started_utc']} — {machine['cpus']} CPUs, SHARED machine "
        f"(other jobs may run): load average 1/5/15 min {before} before, {after} after",
        f"model: private copy of {Path(info['path']).name} ({info['bytes'] / 1e6:.1f} MB, "
        f"modified {info['mtime']}, sha256 {info['sha256']}…), used by every measurement",
        "Wall-clock times. n = samples; p99 is nearest-rank, so it equals max when n < 100. "
        "Small n: read medians, treat p99/max as indicative only.",
    ]
    cpus = machine["cpus"] or 1
    if before and before[0] > 0.5 * cpus:
        header.append(f"WARNING: the machine was already busy before the bench started (1-min "
                      f"load {before[0]:.1f} on {cpus} CPUs): other jobs competed for the CPUs; "
                      "expect inflated, noisy times. Compare runs only on a quiet machine.")
    report.line("whole bench", f"{machine['bench_seconds']:.0f} s")
    print(report.table(header))
    capacity = raw.get("production_topology", {}).get("figures", {}).get("capacity")
    if capacity:
        print("\n".join(capacity_lines(capacity)))
    report.write_json(RESULTS, machine, raw)
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
