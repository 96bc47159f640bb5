# Cardmaker developer commands. Every target bootstraps what it needs from the pinned
# requirement files, so the first command on a fresh clone works with only python3 and make.
SHELL := /bin/bash
PYTHON ?= python3
# .venv (python3) runs the demo, the local stack, the `cardmaker` command and the dev tools.
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
PORT ?= 3000
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

# Lambda's Python (3.13: python3.13 on PATH if it really runs, else a pyenv build). `make test`
# runs on it, in a venv of its own, when this machine has it; otherwise on python3, loudly.
# `make test TEST_PYTHON=python3.11 TEST_VENV=.venv-3.11` runs the suite on any other Python.
PYTHON313 := $(shell tools/find-python313)
ifneq ($(PYTHON313),)
TEST_PYTHON ?= $(PYTHON313)
TEST_VENV ?= .venv-3.13
else
TEST_PYTHON ?= $(PYTHON)
TEST_VENV ?= $(VENV)
endif
NO_PYTHON313 = echo; echo "!!! Python 3.13 (Lambda's runtime) not found (python3.13 on PATH, or"; \
	echo "!!! $$(pyenv root 2>/dev/null || echo '~/.pyenv')/versions/3.13*): $(1)"; echo

.PHONY: help venv browser test test-all lint typecheck format serve demo bench chaos clean openapi build lock

help:
	@echo "make demo   - run the whole pipeline on the embedded local stack"
	@echo "make test   - lint, template checks and the whole test suite (on Python 3.13 if found)"
	@echo "make browser - install chromium + chromium-driver (Debian, root) for the console's test"
	@echo "make test-all - make test on Python 3.13, then again on python3 (what CI runs)"
	@echo "make build  - sam build of the template for Lambda (arm64, 3.13), then its check"
	@echo "make lock   - re-resolve layers/shared/requirements.in into requirements.txt"
	@echo "make serve  - the local stack in the foreground on 127.0.0.1:\$$PORT (default 3000);"
	@echo "              a quiet log by default, LOGS=json for the functions' JSON logs"
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
# One venv per Python: $(1) the interpreter, $(2) the venv's folder.
DEV_REQUIREMENTS := requirements-dev.txt requirements-cli.txt layers/shared/requirements.txt pyproject.toml
# The first command on a fresh clone installs for a while, silently (pip --quiet): say so.
INSTALLING = @echo "installing $(1) into $(2) (first run only: about $(3) on a fresh clone)..."
define DEV_VENV
	$(call INSTALLING,the development tools and the cardmaker command,$(2),2 minutes)
	$(1) -m venv $(2)
	$(2)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(2)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	printf '%s\n' "$(CURDIR)/layers/shared" "$(CURDIR)" \
		> "$$($(2)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/cardmaker-dev.pth"
	touch $(2)/.installed
endef

$(VENV)/.installed: $(DEV_REQUIREMENTS)
	$(call DEV_VENV,$(PYTHON),$(VENV))

ifneq ($(TEST_VENV),$(VENV))
$(TEST_VENV)/.installed: $(DEV_REQUIREMENTS)
	$(call DEV_VENV,$(TEST_PYTHON),$(TEST_VENV))
endif

$(SAM_VENV)/.installed: requirements-sam.txt
	$(call INSTALLING,the AWS SAM CLI,$(SAM_VENV),1 minute)
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

venv: $(VENV)/.installed $(SAM_VENV)/.installed

# The console's browser test (tests/e2e/test_console.py) drives Debian's Chromium. Installed
# here when absent and this is Debian as root (CI); elsewhere the test fails saying how to
# install it, or skips with CARDMAKER_SKIP_BROWSER=1 (docs/testing.md).
BROWSER_PACKAGES := chromium chromium-driver
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing $(BROWSER_PACKAGES) for the console's browser test (apt-get, a minute or two)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null \
			|| { apt-get update -q >/dev/null && apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null; } \
			|| echo "!!! apt-get could not install $(BROWSER_PACKAGES): the console's browser test will fail"; \
	else \
		echo "!!! no /usr/bin/chromium or /usr/bin/chromedriver: the console's browser test will fail"; \
		echo "!!! (apt-get install chromium chromium-driver as root, or CARDMAKER_SKIP_BROWSER=1)"; \
	fi

lint: venv
	$(TOOLS)/bin/ruff check .
	$(TOOLS)/bin/ruff format --check .
	$(TYPECHECK)
	$(TOOLS)/bin/cfn-lint template.yaml
	$(SAM) validate --lint --region us-east-1 --template-file template.yaml

# mypy (settings in pyproject.toml, cache in .mypy_cache): the layer, the CLI and the dev tooling
# in one run, then each function from its own folder, as Lambda runs it (every handler is app.py
# and imports its sibling modules as top-level ones).
# $(TOOLS) is the venv whose ruff and mypy run: .venv, or the test venv under `make test`.
TOOLS = $(VENV)
TYPECHECK = $(TOOLS)/bin/mypy && for fn in functions/*/; do \
		MYPYPATH=$$fn $(TOOLS)/bin/mypy --no-error-summary $$fn || exit 1; done

typecheck: $(VENV)/.installed
	$(TYPECHECK)

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: TOOLS = $(TEST_VENV)
test: $(TEST_VENV)/.installed $(SAM_VENV)/.installed browser
ifeq ($(PYTHON313),)
	@$(call NO_PYTHON313,the suite runs on $(TEST_PYTHON) instead; not tested on Lambda's Python.)
endif
	$(TOOLS)/bin/ruff check .
	$(TOOLS)/bin/ruff format --check .
	$(TYPECHECK)
	SAM_CLI=$(abspath $(SAM)) $(TEST_VENV)/bin/python -m pytest -n auto --dist loadscope --no-loadscope-reorder
ifeq ($(PYTHON313),)
	@$(call NO_PYTHON313,the suite ran on $(TEST_PYTHON) only; not tested on Lambda's Python.)
endif

# The suite on Lambda's Python (3.13), then on python3 in .venv (CI: both must pass).
test-all:
	$(MAKE) test
ifneq ($(TEST_VENV),$(VENV))
	$(MAKE) test TEST_PYTHON=$(PYTHON) TEST_VENV=$(VENV)
endif

# The deployable artifacts, as `sam deploy` uploads them: no Docker, so sam build needs Lambda's
# Python (3.13) first on PATH to pip-install the layer's arm64 wheels. tools/check_build.py then
# checks what is in them (cp313 aarch64 wheels, the package, each function, no dev tooling).
build: $(SAM_VENV)/.installed
ifeq ($(PYTHON313),)
	@$(call NO_PYTHON313,make build needs it to build the layer.); exit 1
endif
	PATH="$(dir $(PYTHON313)):$$PATH" $(SAM) build --parallel --cached --template-file template.yaml
	$(PYTHON313) tools/check_build.py

# Re-resolves the layer's direct dependencies into the pinned closure (for Lambda's platform and
# the test venvs'); the venvs pick the new pins up on their next command.
lock: $(VENV)/.installed
	$(PY) tools/lock.py

# Quiet log by default (a line per request and stream batch); LOGS=json: the functions' JSON
# logs and metrics, as CloudWatch gets them.
LOGS ?= quiet
serve: $(VENV)/.installed
	PORT=$(PORT) $(PY) -m local.serve$(if $(filter json,$(LOGS)), --json-logs)

demo: $(VENV)/.installed
	$(PY) -m local.demo

bench: $(VENV)/.installed
	$(PY) -m bench

chaos: $(VENV)/.installed
	$(PY) -m chaos

openapi: $(VENV)/.installed
	$(PY) -m local.openapi

clean:
	rm -rf $(VENV) .venv-3.13 $(SAM_VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis .aws-sam

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
	@echo "  the tables OrdersTable, CardsTable, DeliveriesTable, EticketTable and the audit trail's"
	@echo "  AuditTable (deletion protection on),"
	@echo "  the KMS key CardDataKey, the secrets CardNumberSecret and TopSecret."
	@echo "Remove them by hand once the cards are no longer needed: docs/deploy.md, 'Deleting'."
	$(SAM) delete --config-file $(SAMCONFIG)$(SAM_STACK)
