"""The three readings of a message, as plain scikit-learn models (no Rasa inside).

- kind: which intent (type of violence, question, answer…) — multinomial logistic regression;
- now: is someone in danger now or imminently — binary logistic regression;
- person: does she ask, directly or not, for a human — binary logistic regression.

All three read the same features: TF-IDF over word (1–2) and character (2–5, within word
boundaries) n-grams of the normalised text (components/text.py). Chosen by measurement on the
validation set (README, «Cómo se eligió»): on these short, misspelt messages it read kinds
better than DIET and trains in seconds. Kept free of Rasa so the benchmarks can train it many
times (leave-one-author-out) in seconds; components/reading_classifier.py wraps it for Rasa.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.text import normalize

HEADS = ("kind", "now", "person")


def _skops_io() -> Any:
    """``skops.io``, imported without touching the process's logging. At import skops lists
    scikit-learn's estimators, which imports ``numpy.distutils``, which swaps the root
    logger's class and sets it to WARNING: Rasa's server would then log nothing at INFO
    after the model loads (not even «Rasa server is up and running»)."""
    root = logging.getLogger()
    level, logger_class = root.level, root.__class__
    import skops.io

    root.__class__ = logger_class
    root.setLevel(level)
    return skops.io
_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "builtins.", "scipy.")


@dataclass(frozen=True)
class ReadingSettings:
    kind_c: float = 30.0
    now_c: float = 4.0
    person_c: float = 4.0
    seed: int = 42

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ReadingSettings:
        return cls(**{k: config[k] for k in cls.__dataclass_fields__ if config.get(k) is not None})


@dataclass(frozen=True)
class RawReading:
    """What the models read, before the floors and rules of data/triage.yml."""

    ranking: tuple[tuple[str, float], ...]  # (intent, probability), most likely first
    now: float | None
    person: float | None


def _features() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_union

    return make_union(
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
    )


def _same_features(a: Any, b: Any) -> bool:
    """Two fitted unions of ``_features()`` that turn any text into the same vector."""
    parts_a, parts_b = a.transformer_list, b.transformer_list
    if len(parts_a) != len(parts_b) or a.transformer_weights or b.transformer_weights:
        return False
    import numpy as np

    for (_, x), (_, y) in zip(parts_a, parts_b, strict=False):
        if (type(x) is not type(y) or x.get_params() != y.get_params()
                or x.vocabulary_ != y.vocabulary_ or not np.array_equal(x.idf_, y.idf_)):
            return False
    return True


def _shared_features(models: dict[str, Any]) -> Any | None:
    """The one feature union every head reads, or None when they differ.

    Each head is a pipeline (features, logistic regression) fitted on the same texts, so the
    three unions are equal: featurising a message once instead of three times is most of
    the NLU's time. Checked on the fitted models, never assumed."""
    unions = [m.steps[0][1] for m in models.values() if len(m.steps) == 2]
    if len(unions) != len(models) or not unions:
        return None
    first = unions[0]
    return first if all(_same_features(first, u) for u in unions[1:]) else None


def _featurise(union: Any, texts: list[str]) -> Any:
    """``union.transform(texts)`` without scikit-learn's joblib dispatch (same matrix)."""
    import scipy.sparse

    return scipy.sparse.hstack([t.transform(texts) for _, t in union.transformer_list]).tocsr()


def _classifier(c: float, seed: int, balanced: bool) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=3000, random_state=seed,
                              class_weight="balanced" if balanced else None)


@dataclass
class ReadingModel:
    settings: ReadingSettings = field(default_factory=ReadingSettings)
    models: dict[str, Any] = field(default_factory=dict)
    _shared: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._shared = _shared_features(self.models)

    def _probabilities(self, clean: list[str]) -> dict[str, Any]:
        if self._shared is None:
            return {h: m.predict_proba(clean) for h, m in self.models.items()}
        features = _featurise(self._shared, clean)
        return {h: m.steps[-1][1].predict_proba(features) for h, m in self.models.items()}

    def fit(self, texts: Sequence[str], kinds: Sequence[str], now: Sequence[bool],
            person: Sequence[bool]) -> ReadingModel:
        from sklearn.pipeline import make_pipeline

        clean = [normalize(t) for t in texts]
        s = self.settings
        targets = {"kind": (kinds, s.kind_c, False), "now": (now, s.now_c, True),
                   "person": (person, s.person_c, True)}
        for head, (labels, c, balanced) in targets.items():
            if len(set(labels)) < 2:
                continue  # nothing to learn (e.g. a tiny test set)
            self.models[head] = make_pipeline(_features(), _classifier(c, s.seed, balanced))
            self.models[head].fit(clean, list(labels))
        self._shared = _shared_features(self.models)
        return self

    def read_many(self, texts: Sequence[str], ranking_length: int = 10) -> list[RawReading]:
        clean = [normalize(t) for t in texts]
        if not clean:
            return []
        if not self.models:  # untrained (e.g. no intents): nothing to read
            return [RawReading((), None, None) for _ in clean]
        columns = self._probabilities(clean)
        readings = []
        for i in range(len(clean)):
            ranking: tuple[tuple[str, float], ...] = ()
            if "kind" in columns:
                classes = self.models["kind"].classes_
                row = columns["kind"][i]
                order = row.argsort()[::-1][:ranking_length]
                ranking = tuple((str(classes[j]), float(row[j])) for j in order)
            readings.append(RawReading(
                ranking=ranking,
                now=float(columns["now"][i][1]) if "now" in columns else None,
                person=float(columns["person"][i][1]) if "person" in columns else None,
            ))
        return readings

    # --- persistence (skops: no pickle of arbitrary code) ----------------------------------
    def save(self, directory: Path) -> None:
        sio = _skops_io()
        for head, model in self.models.items():
            sio.dump(model, directory / f"{head}.skops")

    @classmethod
    def load(cls, directory: Path, settings: ReadingSettings) -> ReadingModel:
        sio = _skops_io()
        models = {}
        for head in HEADS:
            path = directory / f"{head}.skops"
            if not path.exists():
                continue
            untrusted = sio.get_untrusted_types(file=path)
            unexpected = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES)]
            if unexpected:
                raise ValueError(f"unexpected types in {path.name}: {unexpected}")
            models[head] = sio.load(path, trusted=untrusted)
        return cls(settings, models)
