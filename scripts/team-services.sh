#!/usr/bin/env bash
# PostgreSQL and Redis for the team deployment, natively (no Docker), on 127.0.0.1.
#
#   scripts/team-services.sh start [STATE_DIR]   install if missing, start both, print the env
#   scripts/team-services.sh stop STATE_DIR      stop both (data stays in STATE_DIR)
#   scripts/team-services.sh env STATE_DIR       print the env again
#
# `start` picks free ports, keeps all data in STATE_DIR (default: a new /tmp/fma-team.XXXXXX),
# creates the databases `dagster` and `mlflow` owned by the role `fma` with a random password,
# and writes STATE_DIR/env with the variables deploy/dagster.yaml and mlflow need:
#   DAGSTER_POSTGRES_HOST/PORT/USER/PASSWORD/DB, MLFLOW_BACKEND_STORE_URI,
#   DAGSTER_CELERY_BROKER_URL, DAGSTER_CELERY_BACKEND_URL
# `start` prints those lines too (KEY=VALUE), the last one being STATE_DIR=...
# Packages: postgresql (15) and redis-server (7) from apt when missing (needs root).
set -euo pipefail

die() { echo "team-services: $*" >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

install_if_missing() {
  local need=()
  pg_bindir >/dev/null || need+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
  [ ${#need[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing ${need[*]}: install them (apt-get install ${need[*]}) or run as root"
  echo "team-services: apt-get install ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2; }
}

# run a postgres binary as the unprivileged user when we are root (initdb refuses root)
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  install_if_missing
  local state="${1:-}"
  if [ -z "$state" ]; then state="$(mktemp -d /tmp/fma-team.XXXXXX)"; fi
  mkdir -p "$state"
  state="$(cd "$state" && pwd)"
  chmod 755 "$state"
  [ -f "$state/env" ] && die "$state already holds running services? stop them first (or use a new dir)"
  local bin pg_port redis_port password
  bin="$(pg_bindir)"
  pg_port="$(free_port)"
  redis_port="$(free_port)"
  password="$(python3 -c 'import secrets; print(secrets.token_hex(12))')"

  # PostgreSQL: a private cluster in $state/pg, TCP on 127.0.0.1 only, socket in $state/pgsock
  mkdir -p "$state/pg" "$state/pgsock"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$state/pg" "$state/pgsock"
  printf '%s\n' "$password" > "$state/pgpass.tmp"
  [ "$(id -u)" -eq 0 ] && chown postgres "$state/pgpass.tmp"
  as_pg "$bin/initdb" -D "$state/pg" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --pwfile="$state/pgpass.tmp" -E UTF8 --locale=C.UTF-8 >"$state/initdb.log" 2>&1 \
    || { cat "$state/initdb.log" >&2; die "initdb failed"; }
  rm -f "$state/pgpass.tmp"
  as_pg "$bin/pg_ctl" -D "$state/pg" -l "$state/pg/postgres.log" -w -t 60 \
    -o "-p $pg_port -k $state/pgsock -c listen_addresses=127.0.0.1 -c max_connections=200" start >&2
  as_pg "$bin/psql" -h "$state/pgsock" -p "$pg_port" -U postgres -q -v ON_ERROR_STOP=1 <<SQL >&2
CREATE ROLE fma LOGIN PASSWORD '$password';
CREATE DATABASE dagster OWNER fma;
CREATE DATABASE mlflow OWNER fma;
SQL

  # Redis: Celery's broker (db 0) and result backend (db 1); no persistence
  mkdir -p "$state/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes --dir "$state/redis" \
    --pidfile "$state/redis/redis.pid" --logfile "$state/redis/redis.log" --save "" --appendonly no \
    --protected-mode yes >&2
  for _ in $(seq 50); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$redis_port" ping >/dev/null || die "redis did not start (see $state/redis/redis.log)"

  cat > "$state/env" <<ENV
DAGSTER_POSTGRES_HOST=127.0.0.1
DAGSTER_POSTGRES_PORT=$pg_port
DAGSTER_POSTGRES_USER=fma
DAGSTER_POSTGRES_PASSWORD=$password
DAGSTER_POSTGRES_DB=dagster
MLFLOW_BACKEND_STORE_URI=postgresql+psycopg2://fma:$password@127.0.0.1:$pg_port/mlflow
DAGSTER_CELERY_BROKER_URL=redis://127.0.0.1:$redis_port/0
DAGSTER_CELERY_BACKEND_URL=redis://127.0.0.1:$redis_port/1
PG_BINDIR=$bin
PG_PORT=$pg_port
REDIS_PORT=$redis_port
ENV
  chmod 600 "$state/env"
  cat "$state/env"
  echo "STATE_DIR=$state"
}

stop() {
  local state="${1:?usage: team-services.sh stop STATE_DIR}"
  [ -d "$state" ] || die "no such state dir: $state"
  local rc=0
  if [ -f "$state/redis/redis.pid" ]; then
    kill "$(cat "$state/redis/redis.pid")" 2>/dev/null || true
    for _ in $(seq 50); do [ -f "$state/redis/redis.pid" ] || break; sleep 0.1; done
  fi
  if [ -f "$state/pg/postmaster.pid" ]; then
    local bin
    bin="$(grep '^PG_BINDIR=' "$state/env" 2>/dev/null | cut -d= -f2- || true)"
    bin="${bin:-$(pg_bindir)}"
    as_pg "$bin/pg_ctl" -D "$state/pg" -m fast -w -t 60 stop >&2 || rc=1
  fi
  rm -f "$state/env"
  return $rc
}

case "${1:-}" in
  start) shift; start "${1:-}" ;;
  stop) shift; stop "${1:-}" ;;
  env) shift; cat "${1:?usage: team-services.sh env STATE_DIR}/env" ;;
  *) echo "usage: $0 start [STATE_DIR] | stop STATE_DIR | env STATE_DIR" >&2; exit 2 ;;
esac
