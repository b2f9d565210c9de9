"""The trainers' loop: a redacted review queue filled from real messages, labelling into
data/nlu/revisadas/, one command to retrain and compare, and a gate before a model is served.

- capture.py: ``consider(event)`` for the event broker (which messages to review);
- redaction.py: identifiers out before anything is stored;
- items.py / review.py: the encrypted queue, purge, the close-outcome hook (outcomes.py);
- labelling.py: labelled items written as Rasa NLU YAML;
- datahash.py, registry.py, comparison.py, noise.py, promotion.py, report.py, cli.py:
  `make entrenar`, `make publicar`, `make volver`.
"""
