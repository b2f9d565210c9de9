# Helpline assistant: `make run` and `make test` are all a newcomer needs.
# Targets are incremental: nothing is reinstalled or retrained unless its inputs changed.

PYTHON ?= python3.10
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
INSTALLED := $(VENV)/.installed
SPACY_MODEL := build/spacy_es/meta.json
MODEL_STAMP := models/.trained

export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export PYTHONPATH := $(CURDIR)
export PYTHONDONTWRITEBYTECODE := 1

TRAINING_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' 2>/dev/null) \
	$(wildcard components/*.py) $(SPACY_MODEL)

.PHONY: install train run test lint unit validate conversations conversaciones nlu-gate \
	integration browser bench triage agent clean browser-deps nginx-deps entrenar publicar volver

install: $(INSTALLED)

$(INSTALLED): requirements.txt constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "Falta $(PYTHON) en el PATH (Rasa 3.6 necesita Python 3.10)." >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==24.0"
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	touch $@

$(SPACY_MODEL): $(INSTALLED) components/build_spacy.py
	$(PY) -m components.build_spacy

train: $(MODEL_STAMP)

# A model already trained from the same inputs (a candidate of `make entrenar`, a published
# one) is copied instead of training twice (training/datahash.py); exit 3 means «none: train».
$(MODEL_STAMP): $(INSTALLED) $(TRAINING_INPUTS)
	@$(PY) -m training reutilizar; status=$$?; \
	if [ $$status -eq 3 ]; then \
		$(RASA) train --fixed-model-name asistente --out models && $(PY) -m training marcar; \
	else exit $$status; fi
	touch $@

# `make run ENDPOINTS=endpoints.production.yml RASA_INSTANCES=3` for the production topology;
# every setting is an environment variable (README, "Production topology").
# Once a model has been published (`make publicar`), `make run` serves that one and never
# trains; before that (a fresh clone) it trains as `make train` does.
run: $(INSTALLED) $(SPACY_MODEL)
	@$(PY) -m training servir; status=$$?; \
	if [ $$status -eq 3 ]; then $(MAKE) --no-print-directory train; \
	elif [ $$status -ne 0 ]; then exit $$status; fi
	$(PY) -m stack

# --- trainers (README, «Guía para entrenadoras y entrenadores») ---------------------------
# validate, train a candidate into models/candidatos/, compare with the served model, decide
entrenar: $(INSTALLED) $(SPACY_MODEL)
	$(PY) -m training entrenar

# serve the latest candidate if the promotion gate allows it
publicar: $(INSTALLED)
	$(PY) -m training publicar

# serve the previously published model again
volver: $(INSTALLED)
	$(PY) -m training volver

triage: $(INSTALLED)
	@ls models/*.tar.gz >/dev/null 2>&1 || $(MAKE) --no-print-directory train >&2
	@$(PY) -m triage.cli

# --- tests -----------------------------------------------------------------------------
test: lint unit validate conversations conversaciones nlu-gate integration browser entrenar

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .

unit: $(INSTALLED) $(SPACY_MODEL)
	$(VENV)/bin/pytest -q -m "not integration and not browser"

validate: $(INSTALLED)
	$(PY) -m tests.tools.validate_data

conversations: $(MODEL_STAMP)
	$(RASA) test core --e2e --stories tests/test_stories.yml --model models/asistente.tar.gz \
		--out results/core --fail-on-prediction-errors

# Whole conversations through the phone simulator, the real stack and the console
# (tests/conversaciones/*.yml; README, «Pruebas de conversación»).
conversaciones: $(MODEL_STAMP)
	$(PY) -m tests.conversaciones.runner

nlu-gate: $(MODEL_STAMP)
	$(PY) -m tests.tools.nlu_gate --model models/asistente.tar.gz --out results/nlu

integration: $(MODEL_STAMP) nginx-deps
	$(VENV)/bin/pytest -q -m "integration and not browser"

browser-deps:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
		echo "Instalando chromium y chromium-driver de Debian (pruebas de navegador)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

# nginx for the production topology (scale-out tests); the package's own service is not
# started (policy-rc.d): the stack runs nginx itself, unprivileged, on its own ports.
nginx-deps:
	@test -x /usr/sbin/nginx || { \
		echo "Instalando nginx-light de Debian (topología de producción)"; \
		test -e /usr/sbin/policy-rc.d || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; \
			chmod +x /usr/sbin/policy-rc.d; trap 'rm -f /usr/sbin/policy-rc.d' EXIT; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }

browser: $(MODEL_STAMP) browser-deps
	$(VENV)/bin/pytest -q -m browser

bench: $(MODEL_STAMP)
	$(PY) -m bench

agent: $(INSTALLED)
	$(PY) -m console.manage create-agent --username "$(NAME)" --role "$(or $(ROLE),specialist)"

clean:
	rm -rf build models/*.tar.gz models/asistente.json $(MODEL_STAMP) results .pytest_cache \
		.ruff_cache
