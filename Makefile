# The README's two commands: `make up` runs the whole hub, `make test` runs the tests.
# Both create .venv with the system python3 when it is missing, and (re)install the project
# only when pyproject.toml has changed since the last install.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
UP_ARGS ?=
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv up test lint docs

help:
	@echo "make up      start the whole hub on this machine (UP_ARGS='--port-base 9001' ...)"
	@echo "make test    run the tests (PYTEST_ARGS='-k launcher -x' ...)"
	@echo "make lint    ruff, then mypy (strict for shared/ and every domain.py)"
	@echo "make docs    generate the docs"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Knutepunkt needs Python 3.11 or newer ($(PYTHON) is older)"; exit 1; }
	@$(PYTHON) -m venv $(VENV) \
		|| { rm -rf $(VENV); echo "could not create $(VENV): install the venv module" \
		     "(on Debian/Ubuntu: apt-get install python3-venv)"; exit 1; }

# The stamp is newer than pyproject.toml once the install has succeeded.
$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

venv: $(INSTALLED)

up: $(INSTALLED)
	$(BIN)/knutepunkt up $(UP_ARGS)

test: $(INSTALLED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/mypy

docs: $(INSTALLED)
	$(BIN)/python -m knutepunkt.docs

-include deploy/compose.mk
