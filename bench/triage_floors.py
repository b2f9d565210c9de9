"""Choose the promotion floors of data/triage.yml by measurement on the held-out set.

For each pair of floors, every held-out message is read with the model's raw intent ranking
and the «more dangerous reading wins» rule; prints emergency recall, emergency+risk handoff
recall, and how many non-danger messages were raised to a danger level (false alarms).

    .venv/bin/python -m bench.triage_floors [--model models/asistente.tar.gz]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace
from pathlib import Path

from tests.tools.nlu_gate import DANGER, load_heldout
from triage.levels import load_triage_map

ROOT = Path(__file__).resolve().parent.parent
GRID = (0.05, 0.08, 0.10, 0.15, 0.20, 0.30, 1.0)


async def _rankings(model: Path) -> list[tuple[str, dict]]:
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(30)
    agent = Agent.load(str(model))
    out = []
    for text, gold in load_heldout():
        parsed = await agent.parse_message(text)
        out.append((gold, parsed))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "asistente.tar.gz")
    args = parser.parse_args(argv)
    base = load_triage_map()
    readings = asyncio.run(_rankings(args.model))
    print(f"{'floor emerg':>11} {'floor risk':>10} {'emerg R':>8} {'handoff R':>9} "
          f"{'emerg P':>8} {'false alarms':>12}")
    for emergency_floor in GRID:
        for risk_floor in GRID:
            triage = replace(base, floors={"emergency": emergency_floor, "risk": risk_floor})
            rows = []
            for gold, parsed in readings:
                triage_info = parsed.get("triage") or {}
                top = triage_info.get("promoted_from") or (parsed.get("intent") or {}).get("name")
                ranking = parsed.get("intent_ranking") or []
                top_conf = next((r["confidence"] for r in ranking if r["name"] == top), 0.0)
                reading = triage.assess(top, top_conf, ranking)
                rows.append((base.rule_for(gold).level, reading.level))
            emergencies = [p for g, p in rows if g == "emergency"]
            danger = [p for g, p in rows if g in DANGER]
            predicted_emergency = [g for g, p in rows if p == "emergency"]
            alarms = sum(1 for g, p in rows if g not in DANGER and p in DANGER)
            print(f"{emergency_floor:>11} {risk_floor:>10} "
                  f"{emergencies.count('emergency') / len(emergencies):>8.3f} "
                  f"{sum(p in DANGER for p in danger) / len(danger):>9.3f} "
                  f"{predicted_emergency.count('emergency') / max(1, len(predicted_emergency)):>8.3f} "
                  f"{alarms:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
