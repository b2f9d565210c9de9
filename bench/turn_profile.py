"""Where a turn's time goes: the project's Rasa agent in this process (production tracker
and lock stores, the escalation broker, the running action server), one conversation of
``turns`` messages, profiled with pyinstrument; time summed by part of the turn.

The channel's own writes are not in this process: ``bench.scale`` reports them as the CPU
difference between the webhook and REST paths on the same instance."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from stack import rasa_tuning

# (label, predicate on a pyinstrument frame); the first match claims the frame's time
PARTS = [
    ("NLU (parse_message: featurisation, DIET, triage)",
     lambda f: f.function == "parse_message" and "rasa/core/processor" in f.file_path),
    ("custom actions over HTTP (action server)",
     lambda f: f.function == "run" and f.class_name == "RemoteAction"),
    ("policies (predict next action)",
     lambda f: f.function == "_predict_next_with_tracker"),
    ("tracker store (read and save)",
     lambda f: "store/tracker_store" in f.file_path or "store/tracker_cache" in f.file_path),
    ("lock store (Redis)", lambda f: "lock_store" in f.file_path),
    ("event broker (escalation)",
     lambda f: "handoff/escalation" in f.file_path or f.function == "_stream_new_events"),
    ("sending the bot messages (output channel)",
     lambda f: f.function in ("send_response", "_send_bot_messages")),
]


def _claim(frame: Any, totals: dict[str, float]) -> None:
    for label, matches in PARTS:
        try:
            if matches(frame):
                totals[label] = totals.get(label, 0.0) + frame.time
                return
        except (AttributeError, TypeError):
            continue
    children = list(frame.children)
    if not children:
        totals["other Rasa (processor, events, serialisation)"] = (
            totals.get("other Rasa (processor, events, serialisation)", 0.0) + frame.time)
        return
    own = frame.time - sum(c.time for c in children)
    if own > 0:
        totals["other Rasa (processor, events, serialisation)"] = (
            totals.get("other Rasa (processor, events, serialisation)", 0.0) + own)
    for child in children:
        _claim(child, totals)


async def run(model: Path, endpoints: Path, texts: list[str], turns: int,
              out_html: Path) -> dict[str, Any]:
    import logging

    import structlog
    from pyinstrument import Profiler
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.utils import AvailableEndpoints

    # as in the stack's Rasa processes: their adjustments, and debug records dropped at INFO
    rasa_tuning.install()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    agent = await load_agent(model_path=str(model),
                             endpoints=AvailableEndpoints.read_endpoints(str(endpoints)))
    sender = "56900009999"
    await agent.handle_message(UserMessage("hola", CollectingOutputChannel(), sender))
    profiler = Profiler(interval=0.0005, async_mode="enabled")
    started = time.perf_counter()
    profiler.start()
    for i in range(turns):
        await agent.handle_message(UserMessage(texts[i % len(texts)],
                                               CollectingOutputChannel(), sender))
    profiler.stop()
    wall = time.perf_counter() - started
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text(profiler.output_html(), encoding="utf-8")
    root = profiler.last_session.root_frame()
    totals: dict[str, float] = {}
    if root is not None:
        _claim(root, totals)
    per_turn_ms = {k: 1000 * v / turns for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}
    return {"turns": turns, "wall_seconds": wall, "per_turn_ms": per_turn_ms,
            "profile_html": str(out_html)}
