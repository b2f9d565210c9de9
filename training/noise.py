"""How much a figure moves by chance: a paired bootstrap over the evaluation messages.

Both models read the same messages. Resampling the messages with replacement (2000 times,
fixed seed) and recomputing a rate for both models on each resample gives the spread of
their difference that comes only from which messages happen to be in the set. The noise
margin is 1.28 standard deviations of that difference (a one-sided 90 % bound): a candidate
that loses emergencies or hands off calm messages by more than that is worse beyond noise.

With two models that differ on a single message the margin is about one message's weight, so
losing one emergency out of ~150 is noise; losing two with nothing gained is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
SEED = 7
Z_ONE_SIDED_90 = 1.2816


@dataclass(frozen=True)
class Difference:
    served: float | None
    candidate: float | None
    margin: float

    @property
    def delta(self) -> float:
        if self.served is None or self.candidate is None:
            return 0.0
        return self.candidate - self.served

    def as_dict(self) -> dict[str, float | None]:
        return {"servido": self.served, "candidato": self.candidate,
                "diferencia": round(self.delta, 6), "margen": round(self.margin, 6)}


def _rate(hits: np.ndarray, members: np.ndarray) -> float | None:
    count = int(members.sum())
    return float((hits & members).sum()) / count if count else None


def paired_difference(members: Sequence[bool], served_hits: Sequence[bool],
                      candidate_hits: Sequence[bool], resamples: int = RESAMPLES,
                      seed: int = SEED) -> Difference:
    """The rate «hits among members» for both models and the noise margin of their difference.

    ``members`` marks the messages the rate counts (e.g. gold emergencies), over the whole
    evaluation set; the resamples are drawn from the whole set, as the set itself was.
    """
    members_a = np.asarray(members, dtype=bool)
    served_a = np.asarray(served_hits, dtype=bool) & members_a
    candidate_a = np.asarray(candidate_hits, dtype=bool) & members_a
    n = len(members_a)
    served, candidate = _rate(served_a, members_a), _rate(candidate_a, members_a)
    if n == 0 or not members_a.any():
        return Difference(served, candidate, 0.0)
    weights = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=resamples)
    totals = weights @ members_a.astype(float)
    valid = totals > 0
    deltas = ((weights @ candidate_a.astype(float)) - (weights @ served_a.astype(float)))[valid] \
        / totals[valid]
    spread = float(deltas.std(ddof=1)) if len(deltas) > 1 else 0.0
    return Difference(served, candidate, Z_ONE_SIDED_90 * spread)
