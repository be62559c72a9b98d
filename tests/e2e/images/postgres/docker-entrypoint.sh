#!/usr/bin/env bash
# Stand-in for the official postgres image's entrypoint. On an empty PGDATA: initdb with
# POSTGRES_USER as superuser, password auth for host connections, POSTGRES_DB created, then
# /docker-entrypoint-initdb.d/*.sh (executed, or sourced if not executable) and *.sql run against
# a temporary server that listens on the unix socket only. Then exec the server in the foreground.
set -Eeo pipefail  # no -u: sourced initdb.d scripts run in this shell, as in the official image

# VAR_FILE names a file holding VAR (docker secrets), as in the official image.
file_env() {
  local var=$1 file_var="${1}_FILE"
  if [ -n "${!file_var:-}" ]; then
    [ -z "${!var:-}" ] || { echo "error: both $var and $file_var are set" >&2; exit 1; }
    export "$var"="$(< "${!file_var}")"
  fi
}

if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  file_env POSTGRES_PASSWORD; file_env POSTGRES_USER; file_env POSTGRES_DB
  export POSTGRES_USER="${POSTGRES_USER:-postgres}"
  export POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
  auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then
    echo "error: database is uninitialized and POSTGRES_PASSWORD is not set" \
         "(set it, or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
    exit 1
  fi
  mkdir -p "$PGDATA"
  if [ -n "${POSTGRES_PASSWORD:-}" ]; then
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") ${POSTGRES_INITDB_ARGS:-}
  else
    initdb --username="$POSTGRES_USER" ${POSTGRES_INITDB_ARGS:-}
  fi
  printf '\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"

  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
  psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
  if [ "$POSTGRES_DB" != postgres ]; then
    "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<< 'CREATE DATABASE :"db";'
  fi
  shopt -s nullglob
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) echo "$0: running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
      *.sql) echo "$0: running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *) echo "$0: ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
  echo "$0: PostgreSQL init process complete; ready for start up."
fi

exec "$@"
