# Included from the Makefile. `make compose-test` runs compose.yaml for real with podman
# (see deploy/compose_test.py): builds the images, brings the stack up, runs the end-to-end
# scenario, tears it down. Prints `SKIP: <reason>` and succeeds only on a machine that cannot
# run containers at all. COMPOSE_TEST_ARGS=--standin-services tests the machinery alone.
# The harness runs on the host with the project's venv (httpx, PyYAML), made like `make test`
# makes it when missing (a clean clone).
COMPOSE_TEST_ARGS ?=

.PHONY: compose-test
compose-test: $(INSTALLED)
	$(BIN)/python -m deploy.compose_test $(COMPOSE_TEST_ARGS)
