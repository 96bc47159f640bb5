# Cardmaker developer commands. Every target bootstraps what it needs from the pinned
# requirement files, so the first command on a fresh clone works with only python3 and make.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
PORT ?= 3000
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help venv test lint typecheck format serve demo bench chaos clean openapi

help:
	@echo "make demo   - run the whole pipeline on the embedded local stack"
	@echo "make test   - lint, template checks and the whole test suite"
	@echo "make serve  - the local stack in the foreground on 127.0.0.1:\$$PORT (default 3000)"
	@echo "make lint   - ruff, mypy, cfn-lint and sam validate --lint"
	@echo "make typecheck - mypy alone (strict for the layer, the CLI and the handlers)"
	@echo "make bench  - benchmarks (ratios against a baseline measured in the same run)"
	@echo "make chaos  - the long reliability runs (faults, crashes, load), with their figures"
	@echo "make openapi - write docs/openapi.json from the HTTP API's routes"
	@echo "make deploy - sam deploy with samconfig.toml (guided the first time, or GUIDED=1)"
	@echo "make sync SYNC_STACK=NAME - sam sync --watch to a development stack, never production"
	@echo "make logs [FUNCTION=CardDeliveryFunction] - sam logs --tail of the deployed stack"
	@echo "make delete - sam delete (says first what it keeps: tables, key, secrets)"

# The .pth file makes the layer's package importable as `cardmaker` (as from /opt/python in
# Lambda) and the dev tooling as `local` / `bench`, for every command run with the venv.
$(VENV)/.installed: requirements-dev.txt requirements-cli.txt layers/shared/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	printf '%s\n' "$(CURDIR)/layers/shared" "$(CURDIR)" \
		> "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/cardmaker-dev.pth"
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

venv: $(VENV)/.installed $(SAM_VENV)/.installed

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(TYPECHECK)
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint --region us-east-1 --template-file template.yaml

# mypy (settings in pyproject.toml, cache in .mypy_cache): the layer, the CLI and the dev tooling
# in one run, then each function from its own folder, as Lambda runs it (every handler is app.py
# and imports its sibling modules as top-level ones).
TYPECHECK = $(VENV)/bin/mypy && for fn in functions/*/; do \
		MYPYPATH=$$fn $(VENV)/bin/mypy --no-error-summary $$fn || exit 1; done

typecheck: $(VENV)/.installed
	$(TYPECHECK)

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(TYPECHECK)
	SAM_CLI=$(abspath $(SAM)) $(PY) -m pytest -n auto

serve: $(VENV)/.installed
	PORT=$(PORT) $(PY) -m local.serve

demo: $(VENV)/.installed
	$(PY) -m local.demo

bench: $(VENV)/.installed
	$(PY) -m bench

chaos: $(VENV)/.installed
	$(PY) -m chaos

openapi: $(VENV)/.installed
	$(PY) -m local.openapi

clean:
	rm -rf $(VENV) $(SAM_VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis .aws-sam

# --- Deploying to AWS (docs/deploy.md) ----------------------------------------------------
# Every sam command reads samconfig.toml (the stack name, change sets confirmed, the managed
# artifact bucket). The first deploy is guided: samconfig.toml has no parameter_overrides
# until `sam deploy --guided` has asked for the template's parameters and saved the answers;
# GUIDED=1 asks again. STACK overrides samconfig's stack name for deploy, logs and delete.
.PHONY: deploy sync logs delete
SAMCONFIG := samconfig.toml
DEPLOY_ANSWERS := $(shell awk '/^\[/ { deploy = ($$0 == "[default.deploy.parameters]") } \
	deploy && /^parameter_overrides/' $(SAMCONFIG))
GUIDED ?= $(if $(DEPLOY_ANSWERS),,1)
STACK ?=
SYNC_STACK ?=
FUNCTION ?=
PRODUCTION_STACK := $(shell sed -n 's/^stack_name = "\(.*\)"/\1/p' $(SAMCONFIG) | head -n 1)
SAM_STACK = $(if $(STACK), --stack-name $(STACK))

deploy: build $(SAM_VENV)/.installed
	$(SAM) deploy --config-file $(SAMCONFIG)$(if $(filter 1,$(GUIDED)), --guided)$(SAM_STACK)

# sam sync updates the functions in place, without a change set: a development stack only.
sync: sync-stack $(SAM_VENV)/.installed
	$(SAM) sync --config-file $(SAMCONFIG) --stack-name $(SYNC_STACK) --watch

.PHONY: sync-stack
sync-stack:
	@if [ -z "$(SYNC_STACK)" ]; then \
		echo "make sync needs SYNC_STACK=<a development stack>: sync bypasses change sets"; exit 2; fi
	@if [ "$(SYNC_STACK)" = "$(PRODUCTION_STACK)" ] || [ "$(SYNC_STACK)" = "$(STACK)" ]; then \
		echo "make sync refuses $(SYNC_STACK): it is the deploy stack (production)"; exit 2; fi

logs: $(SAM_VENV)/.installed
	$(SAM) logs --config-file $(SAMCONFIG) --tail$(SAM_STACK)$(if $(FUNCTION), --name $(FUNCTION))

delete: $(SAM_VENV)/.installed
	@echo "sam delete removes the stack and its functions, API, queues, alarms and log groups."
	@echo "It leaves, on purpose (DeletionPolicy Retain: the cards cannot be read without them):"
	@echo "  the tables OrdersTable, CardsTable, DeliveriesTable (deletion protection on),"
	@echo "  the KMS key CardDataKey, the secrets CardNumberSecret and TopSecret."
	@echo "Remove them by hand once the cards are no longer needed: docs/deploy.md, 'Deleting'."
	$(SAM) delete --config-file $(SAMCONFIG)$(SAM_STACK)
