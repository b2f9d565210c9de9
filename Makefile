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
	integration browser bench triage agent clean browser-deps nginx-deps entrenar publicar volver \
	test-lane-checks test-lane-stack model-ready nlu-gate-now browser-now

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
# Two lanes at once, one per core (each step's output is printed when the step ends):
#   1. unit tests, NLU gate, `make entrenar` (which runs `make conversations` and
#      `make conversaciones` with the model it compares), browser tests;
#   2. training the model (when its inputs changed), integration tests.
# Steps of lane 1 that need the model wait until lane 2 has trained it (MODEL_WAIT_FLAG).
MODEL_WAIT_FLAG := build/.model-being-trained

test: lint validate $(SPACY_MODEL) browser-deps nginx-deps
	@mkdir -p build && touch $(MODEL_WAIT_FLAG)
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-lane-checks test-lane-stack; \
	status=$$?; rm -f $(MODEL_WAIT_FLAG); exit $$status

test-lane-checks:
	@$(MAKE) --no-print-directory -j1 unit model-ready nlu-gate-now entrenar browser-now

test-lane-stack:
	@$(MAKE) --no-print-directory -j1 train; status=$$?; rm -f $(MODEL_WAIT_FLAG); \
	[ $$status -eq 0 ] || exit $$status
	@$(MAKE) --no-print-directory -j1 integration

# the model as lane 2 left it (fails if lane 2 could not train it)
model-ready:
	@while [ -e $(MODEL_WAIT_FLAG) ]; do sleep 2; done; \
	test -e $(MODEL_STAMP) || { echo "No hay modelo entrenado (ver el entrenamiento arriba)." >&2; exit 1; }

nlu-gate-now:
	$(NLU_GATE)

browser-now:
	$(BROWSER_TESTS)

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

NLU_GATE = $(PY) -m tests.tools.nlu_gate --model models/asistente.tar.gz --out results/nlu
nlu-gate: $(MODEL_STAMP)
	$(NLU_GATE)

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

BROWSER_TESTS = $(VENV)/bin/pytest -q -m browser
browser: $(MODEL_STAMP) browser-deps
	$(BROWSER_TESTS)

bench: $(MODEL_STAMP)
	$(PY) -m bench

agent: $(INSTALLED)
	$(PY) -m console.manage create-agent --username "$(NAME)" --role "$(or $(ROLE),specialist)"

clean:
	rm -rf build models/*.tar.gz models/asistente.json $(MODEL_STAMP) results .pytest_cache \
		.ruff_cache
