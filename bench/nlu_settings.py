"""Choose the reading models' settings on the VALIDATION set, without Rasa (seconds per fit).

For each setting, components/reading_model.py is trained on data/nlu, reads the validation
set, the floors are searched (bench/triage_floors.py) and the best acceptable figures are
printed. Also the leave-one-author-out check (``--loao``): for each voice under
data/nlu/voces/, train without that voice and read its lines (training and validation ones),
so the figure says how the model does on a voice it never saw.

    .venv/bin/python -m bench.nlu_settings            # settings grid
    .venv/bin/python -m bench.nlu_settings --loao     # leave one author out

Not part of `make test`; `make bench` runs the comparison (bench/nlu_compare.py) instead.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.triage_floors import VALIDATION, search
from components.reading_model import RawReading, ReadingModel, ReadingSettings
from components.safety_net import verdict
from components.text import normalize
from triage.evaluation import HEADLINE, figures, fmt, score
from triage.labelled import Labelled, read_tree
from triage.levels import FALLBACK_INTENT, Immediacy, TriageMap, load_triage_map
from triage.replay import reread_all

ROOT = Path(__file__).resolve().parent.parent
TRAINING = ROOT / "data" / "nlu"
VOICES = TRAINING / "voces"
FALLBACK_THRESHOLD, AMBIGUITY = 0.4, 0.05  # as in config.yml
SETTINGS = [ReadingSettings(kind_c=k, now_c=n, person_c=p)
            for k, n, p in ((10, 4, 4), (3, 4, 4), (30, 4, 4), (10, 1, 1), (10, 10, 10))]


def as_parse(text: str, raw: RawReading) -> dict[str, Any]:
    """What the Rasa pipeline would add: ranking, the FallbackClassifier, the signals."""
    ranking = [{"name": n, "confidence": c} for n, c in raw.ranking]
    if ranking and (ranking[0]["confidence"] < FALLBACK_THRESHOLD or (
            len(ranking) > 1 and ranking[0]["confidence"] - ranking[1]["confidence"] < AMBIGUITY)):
        ranking.insert(0, {"name": FALLBACK_INTENT, "confidence": FALLBACK_THRESHOLD})
    found = verdict(normalize(text))
    return {"intent_ranking": ranking, "signals": {
        "now": raw.now, "person": raw.person, "rule": found.rule if found else None,
        "rule_kind": found.kind if found else None, "veto": found.veto if found else None}}


def fit(training: Sequence[Labelled], settings: ReadingSettings) -> ReadingModel:
    return ReadingModel(settings).fit(
        [m.text for m in training], [m.kind for m in training],
        [m.immediacy is Immediacy.NOW for m in training], [m.wants_person for m in training])


def parses(model: ReadingModel, messages: Sequence[Labelled]) -> list[dict[str, Any]]:
    texts = [m.text for m in messages]
    return [as_parse(t, r) for t, r in zip(texts, model.read_many(texts), strict=True)]


def line(label: str, f: dict[str, Any]) -> str:
    return f"{label:<34} " + " ".join(f"{fmt(f[k]):>6}" for k, _ in HEADLINE) + \
        f" {fmt(f['macro_f1_kinds']):>6}"


def header() -> str:
    return f"{'':<34} {'emerg':>6} {'peligr':>6} {'calma':>6} {'person':>6} {'F1niv':>6} {'F1tipo':>6}"


def settings_grid(triage_map: TriageMap) -> None:
    training = read_tree(TRAINING, triage_map)
    validation = read_tree(VALIDATION, triage_map)
    print(header())
    for settings in SETTINGS:
        started = time.perf_counter()
        model = fit(training, settings)
        seconds = time.perf_counter() - started
        floors, best = search(validation, parses(model, validation), triage_map)
        label = f"C {settings.kind_c}/{settings.now_c}/{settings.person_c} ({seconds:.0f}s)"
        print(line(label, best), floors, flush=True)


def leave_one_author_out(triage_map: TriageMap) -> None:
    training = read_tree(TRAINING, triage_map)
    validation = read_tree(VALIDATION, triage_map)
    print(header())
    pooled_messages: list[Labelled] = []
    pooled_readings: list = []
    for voice in sorted(VOICES.glob("*.yml")):
        kept = [m for m in training if m.source != voice.stem]
        held = [m for m in training if m.source == voice.stem] + \
            [m for m in validation if m.source == voice.stem]
        readings = reread_all(parses(fit(kept, ReadingSettings()), held), triage_map)
        print(line(f"sin la voz «{voice.stem}» ({len(held)})",
                   figures(score(held, readings, triage_map))), flush=True)
        pooled_messages += held
        pooled_readings += readings
    print(line("todas las voces, sin su propia voz",
               figures(score(pooled_messages, pooled_readings, triage_map))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loao", action="store_true", help="leave one author out")
    args = parser.parse_args(argv)
    triage_map = load_triage_map()
    (leave_one_author_out if args.loao else settings_grid)(triage_map)
    return 0


if __name__ == "__main__":
    sys.exit(main())
