#!/bin/sh
# The official image builds Redis with protected mode off, so that other containers on the
# compose network may connect without a config file; do the same for Debian's build.
set -eu
if [ "${1:-}" = "redis-server" ]; then
    shift
    exec redis-server --protected-mode no "$@"
fi
exec "$@"
