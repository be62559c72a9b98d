#!/bin/sh
# Creates the databases other components asked for (POSTGRES_EXTRA_DATABASES, comma-separated),
# owned by POSTGRES_USER. Runs once, when the data volume is first initialised.
set -eu
for db in $(echo "${POSTGRES_EXTRA_DATABASES:-}" | tr ',' ' '); do
    echo "creating database $db"
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
        -c "CREATE DATABASE \"$db\" OWNER \"$POSTGRES_USER\""
done
