# Included from the Makefile. `make compose-test` runs compose.yaml for real with podman
# (see deploy/compose_test.py): builds the images, brings the stack up, runs the end-to-end
# scenario, tears it down. Prints `SKIP: <reason>` and succeeds only on a machine that cannot
# run containers at all. COMPOSE_TEST_ARGS=--standin-services tests the machinery alone.
COMPOSE_TEST_PYTHON ?= $(firstword $(wildcard .venv/bin/python) python3)
COMPOSE_TEST_ARGS ?=

.PHONY: compose-test
compose-test:
	$(COMPOSE_TEST_PYTHON) -m deploy.compose_test $(COMPOSE_TEST_ARGS)
