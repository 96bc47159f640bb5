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
