#!/bin/sh
# Every fma-pipeline container starts here. First refuse to start with a missing, placeholder
# (CHANGE-ME) or short secret, or with MLflow open to every Host header; then put the team
# dagster.yaml into DAGSTER_HOME (on the shared data volume), write the workspace the webserver
# and daemon load (the user-code gRPC server at $FMA_USER_CODE_HOST:$FMA_USER_CODE_PORT, default
# user-code:4000, as code location `fma_pipeline`) beside it, and run the command.
#
#   docker-entrypoint.sh check-secrets   only the check (the compose service `secrets`, which
#                                        postgres and redis wait for, runs this)
set -e
DEPLOY_DIR="${FMA_DEPLOY_DIR:-/opt/fma-pipeline/deploy}"
MIN_SECRET_LENGTH=12

check_secrets() {
  problems=""
  for name in POSTGRES_PASSWORD DAGSTER_POSTGRES_PASSWORD REDIS_PASSWORD; do
    eval "value=\${$name:-}"
    case "$value" in
      "") problems="$problems\n  $name is not set" ;;
      *CHANGE-ME*|*change-me*|*CHANGEME*|*changeme*) problems="$problems\n  $name is still the placeholder CHANGE-ME" ;;
      *) [ "${#value}" -ge "$MIN_SECRET_LENGTH" ] \
           || problems="$problems\n  $name is shorter than $MIN_SECRET_LENGTH characters" ;;
    esac
  done
  for name in MLFLOW_BACKEND_STORE_URI DAGSTER_CELERY_BROKER_URL DAGSTER_CELERY_BACKEND_URL; do
    eval "value=\${$name:-}"
    case "$value" in
      "") problems="$problems\n  $name is not set" ;;
      *CHANGE-ME*|*change-me*|*CHANGEME*|*changeme*) problems="$problems\n  $name still holds the placeholder CHANGE-ME" ;;
    esac
  done
  # Redis requires a password (requirepass): Celery's URLs must carry it, redis://:PASSWORD@host:6379/N
  for name in DAGSTER_CELERY_BROKER_URL DAGSTER_CELERY_BACKEND_URL; do
    eval "value=\${$name:-}"
    case "$value" in
      ""|*CHANGE-ME*) ;;
      redis*"://:$REDIS_PASSWORD@"*) ;;  # redis:// or rediss://, password only
      *) problems="$problems\n  $name does not carry REDIS_PASSWORD (redis://:\$REDIS_PASSWORD@redis:6379/N)" ;;
    esac
  done
  case ",${MLFLOW_ALLOWED_HOSTS:-}," in
    ,,) problems="$problems\n  MLFLOW_ALLOWED_HOSTS is not set" ;;
    *,\*,*) problems="$problems\n  MLFLOW_ALLOWED_HOSTS allows every Host header ('*'): name the hosts" ;;
  esac
  if [ -n "$problems" ]; then
    printf 'fma-pipeline: refusing to start, fix .env (see deploy/.env.example):%b\n' "$problems" >&2
    printf 'A password can be made with: openssl rand -hex 24\n' >&2
    exit 78  # EX_CONFIG
  fi
}

check_secrets
if [ "${1:-}" = "check-secrets" ]; then
  echo "fma-pipeline: secrets set"
  exit 0
fi
mkdir -p "$DAGSTER_HOME"
cp "$DEPLOY_DIR/dagster.yaml" "$DAGSTER_HOME/dagster.yaml"
cat > "$DAGSTER_HOME/workspace.yaml.tmp" <<EOF
# Written by docker-entrypoint.sh: the code location served by the user-code gRPC server.
load_from:
  - grpc_server:
      host: ${FMA_USER_CODE_HOST:-user-code}
      port: ${FMA_USER_CODE_PORT:-4000}
      location_name: fma_pipeline
EOF
mv "$DAGSTER_HOME/workspace.yaml.tmp" "$DAGSTER_HOME/workspace.yaml"
exec "$@"
