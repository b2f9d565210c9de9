"""Deterministic safety net: only where the words are unambiguous.

Each rule must earn its place in the ablation table (``python -m bench.nlu_compare
--ablation``): it stays only if removing it lowers a headline figure on the validation set.

- ``codigo_mascarilla``: the code phrase «Mascarilla 19» in any spelling and any position
  («mascarilla19», «MASCARILA-19», «mascarilla diecinueve»), never «mascarilla(s)» alone.
- ``grito_de_auxilio``: a message made only of cries for help («AYUDAAA», «auxilio!!», «sos 🆘»).

Works on normalised text (components/text.py: lowercase, no accents, elongations folded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MASK = r"m\s?a\s?s+\s?c+\s?a+\s?r+\s?i+\s?l+\s?l*\s?a+s?"
_NINETEEN = r"(19|1\s9|diecinueve|dieci\s?nueve|diez\s?y\s?nueve|dies\s?y\s?nueve|diesinueve)"
_CODE_PHRASE = re.compile(rf"(?<![a-z]){_MASK}[\s\-_#:.,°nro]*{_NINETEEN}(?![0-9])")
_CRY = r"(ayuda|ayudenme|ayudeme|ayudame|auxilio|socorro|sos|help)"
_ONLY_CRIES = re.compile(rf"^\W*{_CRY}(\W+{_CRY})*\W*$")


@dataclass(frozen=True)
class SafetyRule:
    name: str
    kind: str  # the intent it implies (data/triage.yml)
    pattern: re.Pattern[str]


RULES: tuple[SafetyRule, ...] = (
    SafetyRule("codigo_mascarilla", "codigo_mascarilla", _CODE_PHRASE),
    SafetyRule("grito_de_auxilio", "pedir_auxilio", _ONLY_CRIES),
)


def first_match(normalised_text: str, enabled: frozenset[str] | None = None) -> SafetyRule | None:
    """The first rule that matches (``enabled``: rule names to use; None = all)."""
    for rule in RULES:
        if enabled is not None and rule.name not in enabled:
            continue
        if rule.pattern.search(normalised_text):
            return rule
    return None
