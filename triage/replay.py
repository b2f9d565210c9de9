"""Re-read stored parse data under other floors or without some signals.

The model is run once over a labelled set; choosing floors (bench/triage_floors.py) and the
ablation table (bench/nlu_compare.py) then only re-apply the rule of triage/levels.py, which
takes microseconds per message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from triage.levels import FALLBACK_INTENT, Assessment, Signals, TriageMap


@dataclass(frozen=True)
class Ablation:
    """What to leave out when re-reading: the heads, the floors' promotion, safety rules."""

    name: str = "completo"
    without_now: bool = False
    without_person: bool = False
    without_promotion: bool = False
    without_rules: frozenset[str] = frozenset()


FULL = Ablation()


def raw_inputs(parse: Mapping[str, Any]) -> tuple[str | None, float, list[dict], Signals]:
    """The classifier's own intent and ranking (before TriageLevel rewrote the intent)."""
    ranking = list(parse.get("intent_ranking") or [])
    top = ranking[0] if ranking else (parse.get("intent") or {})
    return top.get("name"), float(top.get("confidence") or 0.0), ranking, \
        Signals.from_parse_data(parse)


def reread(parse: Mapping[str, Any], triage_map: TriageMap,
           ablation: Ablation = FULL) -> Assessment:
    intent, confidence, ranking, signals = raw_inputs(parse)
    if ablation.without_now:
        signals = replace(signals, now=None)
    if ablation.without_person:
        signals = replace(signals, person=None)
    if signals.rule in ablation.without_rules:
        signals = replace(signals, rule=None, rule_kind=None, veto=None)
    if ablation.without_promotion:
        ranking = [r for r in ranking if r.get("name") in (intent, FALLBACK_INTENT)]
    return triage_map.assess(intent, confidence, ranking, signals)


def reread_all(parses: Iterable[Mapping[str, Any]], triage_map: TriageMap,
               ablation: Ablation = FULL) -> list[Assessment]:
    return [reread(p, triage_map, ablation) for p in parses]


def with_floors(triage_map: TriageMap, floors: Mapping[str, float]) -> TriageMap:
    return TriageMap(triage_map.rules, {**triage_map.floors, **floors})


def ablations(rule_names: Sequence[str]) -> list[Ablation]:
    """The rows of the ablation table: everything, then each part left out in turn."""
    rows = [FULL, Ablation("sin inmediatez", without_now=True),
            Ablation("sin «pide persona»", without_person=True),
            Ablation("sin «la lectura más grave»", without_promotion=True)]
    rows += [Ablation(f"sin regla {name}", without_rules=frozenset({name})) for name in rule_names]
    return rows
