"""Two classic readers the shipped model must beat, measured in the same run.

- ``TfidfBaseline``: TF-IDF over word (1–2) and character (2–5) n-grams + logistic regression,
  trained on the same ``data/nlu`` intents; the level comes from the intent alone.
- ``KeywordBaseline``: a short list of words for danger now, violence and asking for a person.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from components.text import normalize
from triage.labelled import Labelled
from triage.levels import Assessment, Signals, TriageMap


class TfidfBaseline:
    def __init__(self, triage_map: TriageMap, seed: int = 42) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union

        self._triage = triage_map
        self._model = make_pipeline(
            make_union(
                TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
                TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
            ),
            LogisticRegression(C=10.0, max_iter=3000, random_state=seed),
        )

    def fit(self, training: Sequence[Labelled]) -> TfidfBaseline:
        self._model.fit([normalize(m.text) for m in training], [m.kind for m in training])
        return self

    def read(self, texts: Sequence[str]) -> list[Assessment]:
        probabilities = self._model.predict_proba([normalize(t) for t in texts])
        classes = self._model.classes_
        readings = []
        for row in probabilities:
            best = int(row.argmax())
            readings.append(self._triage.assess(str(classes[best]), float(row[best])))
        return readings


_NOW = re.compile(
    r"\b(ahora|ahorita|en este momento|ayuda|auxilio|socorro|sos|mascarilla ?19|afuera|"
    r"en la puerta|viene|me esta (pegando|golpeando|ahorcando)|me quiero matar)\b"
)
_VIOLENCE = re.compile(
    r"\b(pega|pego|golpe\w*|insult\w*|amenaz\w*|viol\w*|abus\w*|ahorc\w*|cuello|celos\w*|"
    r"controla\w*|plata|pension|fotos?|sigue|persigue|orden de alejamiento|maltrat\w*)\b"
)
_PERSON = re.compile(r"\b(persona|alguien|humano|humana|psicologa?|profesional|especialista)\b")
_QUESTION = re.compile(r"(\?|\b(como|donde|que es|cuando|puedo|se puede)\b)")


class KeywordBaseline:
    def __init__(self, triage_map: TriageMap) -> None:
        self._triage = triage_map

    def read(self, texts: Sequence[str]) -> list[Assessment]:
        return [self._read(normalize(text)) for text in texts]

    def _read(self, text: str) -> Assessment:
        person = 1.0 if _PERSON.search(text) else 0.0
        if _NOW.search(text):
            return self._triage.assess("emergencia_ahora", 1.0, (), Signals(now=1.0, person=person))
        if _VIOLENCE.search(text) and not _QUESTION.search(text):
            return self._triage.assess("violencia_psicologica", 1.0, (), Signals(0.0, person))
        kind = "pedir_informacion" if _QUESTION.search(text) else "fuera_de_alcance"
        return self._triage.assess(kind, 1.0, (), Signals(now=0.0, person=person))
