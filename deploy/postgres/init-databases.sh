#!/usr/bin/env bash
# Run once, by the postgres image, when its data volume is empty: one role and one database per
# service, so that each service owns its data and cannot read another's tables (DESIGN.md).
# Passwords come from <SERVICE>_DB_PASSWORD in the container's environment (compose.yaml).
set -euo pipefail

for service in booking loans catering notify; do
    password_var="${service^^}_DB_PASSWORD"
    password="${!password_var:-}"
    if [ -z "$password" ]; then
        echo "init-databases: $password_var is not set" >&2
        exit 1
    fi
    # psql variables (:"name", :'pw') quote identifiers and literals; no shell-built SQL.
    psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
        -v name="$service" -v pw="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'pw';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
    echo "init-databases: created database and role $service"
done
