"""Deployment helpers: the `make compose-test` harness that runs compose.yaml with podman.

Not part of the installed project; run from the repository root (`python -m deploy.compose_test`).
"""
