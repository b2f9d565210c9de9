"""Deterministic safety net: only where the words are unambiguous.

Each rule must earn its place in the ablation table (``python -m bench.nlu_compare
--ablation``): it stays only if removing it worsens a headline figure on the validation set.

- ``frase_clave``: the code phrase «Mascarilla 19» decides the ``codigo_mascarilla`` reading in
  both directions. In any spelling and position («mascarilla19», «MASCARILA-19», «mascarilla
  diecinueve», «necesito la mascarilla 19, no puedo hablar») it IS the code phrase; a message
  that mentions a face mask without the 19 («la mascarilla me da alergia») is NEVER read as the
  code phrase, whatever the classifier thinks.

(A rule for bare cries for help, «AYUDAAA», «auxilio!!», was measured and removed: the
classifier already read every such message in the validation set as an emergency.)

Works on normalised text (components/text.py: lowercase, no accents, elongations folded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CODE_KIND = "codigo_mascarilla"
_MASK = r"m\s?a\s?s+\s?c+\s?a+\s?r+\s?i+\s?l+\s?l*\s?a+s?"
_NINETEEN = r"(19|1\s9|diecinueve|dieci\s?nueve|diez\s?y\s?nueve|dies\s?y\s?nueve|diesinueve)"
_CODE_PHRASE = re.compile(rf"(?<![a-z]){_MASK}[\s\-_#:.,°nro]*{_NINETEEN}(?![0-9])")
_A_MASK = re.compile(rf"(?<![a-z]){_MASK}")


@dataclass(frozen=True)
class Verdict:
    """What a rule decided: the kind the message must have, or a kind it cannot have."""

    rule: str
    kind: str | None = None
    veto: str | None = None


def _code_phrase(text: str) -> Verdict | None:
    if _CODE_PHRASE.search(text):
        return Verdict("frase_clave", kind=CODE_KIND)
    if _A_MASK.search(text):
        return Verdict("frase_clave", veto=CODE_KIND)
    return None


RULES = {"frase_clave": _code_phrase}


def verdict(normalised_text: str, enabled: frozenset[str] | None = None) -> Verdict | None:
    """The first rule with something to say (``enabled``: rule names to use; None = all)."""
    for name, rule in RULES.items():
        if enabled is not None and name not in enabled:
            continue
        found = rule(normalised_text)
        if found is not None:
            return found
    return None
