"""Build the Spanish spaCy pipeline Rasa's SpacyNLP loads: spacy.blank("es") + lookup lemmas.

No pretrained weights exist here, so the pipeline is only a tokenizer and a lemmatizer whose
table comes from the packaged ``spacy-lookups-data``. ``make train`` runs this when missing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import spacy

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "build" / "spacy_es"


def build(output: Path, with_lemmas: bool = True) -> Path:
    nlp = spacy.blank("es")
    if with_lemmas:
        nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    nlp.meta["name"] = "blank_lookup"
    nlp.meta["version"] = "1.0.0"
    output.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(output)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--no-lemmas", action="store_true")
    args = parser.parse_args()
    path = build(args.output, with_lemmas=not args.no_lemmas)
    print(f"spaCy pipeline written to {path}")


if __name__ == "__main__":
    main()
