#!/bin/sh
# Every fma-pipeline container starts here. First refuse to start with a missing, placeholder
# or weak secret, or with MLflow open to every Host header (the rules are in
# docs/operations-safety.md and at check_secrets below); then put the team
# dagster.yaml into DAGSTER_HOME (on the shared data volume), write the workspace the webserver
# and daemon load (the user-code gRPC server at $FMA_USER_CODE_HOST:$FMA_USER_CODE_PORT, default
# user-code:4000, as code location `fma_pipeline`) beside it, and run the command.
#
#   docker-entrypoint.sh check-secrets   only the check (the compose service `secrets`, which
#                                        postgres and redis wait for, runs this)
set -e
DEPLOY_DIR="${FMA_DEPLOY_DIR:-/opt/fma-pipeline/deploy}"
MIN_SECRET_LENGTH=12
MIN_SECRET_DISTINCT=6

# Why a secret is weak, or nothing. Judged on its letters and digits in lower case (%XX escapes and
# punctuation dropped), so Change-Me-Please, CHANGE_ME and change.me are all the placeholder:
# - a placeholder (changeme, replaceme, placeholder, yourpassword, yoursecret, example) anywhere in it;
# - a well-known default (password, secret, admin, root, postgres, redis, mlflow, dagster, fma,
#   default, letmein, qwerty, test), give or take digits (Password123!);
# - shorter than MIN_SECRET_LENGTH characters, or fewer than MIN_SECRET_DISTINCT different ones.
weakness() {
  printf '%s' "$1" | awk -v min="$MIN_SECRET_LENGTH" -v distinct="$MIN_SECRET_DISTINCT" '
    { s = s (NR > 1 ? "\n" : "") $0 }
    END {
      if (s == "") { print "is not set"; exit }
      k = tolower(s); gsub(/%[0-9a-f][0-9a-f]/, "", k); gsub(/[^a-z0-9]/, "", k)
      if (k ~ /changeme|replaceme|placeholder|yourpassword|yoursecret|example/) {
        print "is still the placeholder CHANGE-ME (or a spelling of it)"; exit }
      w = k; gsub(/[0-9]/, "", w)
      if (w ~ /^(password|passwd|secret|admin|root|postgres|redis|mlflow|dagster|fma|default|letmein|qwerty|test)$/) {
        print "is a well-known default password"; exit }
      if (length(s) < min) { print "is shorter than " min " characters"; exit }
      n = 0
      for (i = 1; i <= length(s); i++) { c = substr(s, i, 1); if (!(c in seen)) { seen[c] = 1; n++ } }
      if (n < distinct) print "has fewer than " distinct " different characters"
    }'
}

# The password of scheme://user:password@host/..., or nothing when the URL carries none.
url_password() {
  printf '%s' "$1" | sed -n 's|^[A-Za-z][A-Za-z0-9+.-]*://\([^/?#]*\)@.*$|\1|p' | sed -n 's|^[^:]*:||p'
}

# Each MLFLOW_ALLOWED_HOSTS entry that lets every host name through. MLflow strips the spaces
# around an entry and matches it with fnmatch, so ' *', '*:5000', '**', '*.*' and '[a-z]*' all
# open it to every Host header. An entry is accepted only when its host part (before :port) has
# a label without wildcards: mlflow, 127.0.0.1, [::1], *.example.org; any port is fine.
open_hosts() {
  printf '%s' "$1" | awk -v RS=',' '
    {
      e = $0; gsub(/^[ \t\r\n]+|[ \t\r\n]+$/, "", e)
      if (e == "") next
      h = e; literal = 0
      if (h ~ /^\[[0-9A-Fa-f:.]+\]/) literal = 1  # an IPv6 address
      else {
        sub(/:[^:]*$/, "", h); gsub(/\[[^]]*\]/, "*", h)
        n = split(h, labels, ".")
        for (i = 1; i <= n; i++) if (labels[i] ~ /^[A-Za-z0-9-]+$/) literal = 1
      }
      if (!literal) printf "%s'\''%s'\''", (found++ ? ", " : ""), $0
    }'
}

check_secrets() {
  problems=""
  for name in POSTGRES_PASSWORD DAGSTER_POSTGRES_PASSWORD REDIS_PASSWORD; do
    eval "value=\${$name:-}"
    why=$(weakness "$value")
    [ -z "$why" ] || problems="$problems\n  $name $why"
  done
  for name in MLFLOW_BACKEND_STORE_URI DAGSTER_CELERY_BROKER_URL DAGSTER_CELERY_BACKEND_URL; do
    eval "value=\${$name:-}"
    case "$value" in
      "") problems="$problems\n  $name is not set" ;;
      *CHANGE-ME*|*change-me*|*CHANGEME*|*changeme*) problems="$problems\n  $name still holds the placeholder CHANGE-ME" ;;
    esac
  done
  # The backend store's own password (MLflow's PostgreSQL login) is held to the same rules
  case "${MLFLOW_BACKEND_STORE_URI:-}" in
    ""|*CHANGE-ME*|*change-me*|*CHANGEME*|*changeme*) ;;
    *) uri_pw=$(url_password "$MLFLOW_BACKEND_STORE_URI")
       if [ -n "$uri_pw" ]; then
         why=$(weakness "$uri_pw")
         [ -z "$why" ] || problems="$problems\n  MLFLOW_BACKEND_STORE_URI carries a password that $why"
       else
         case "$MLFLOW_BACKEND_STORE_URI" in
           postgres*|mysql*|mssql*) problems="$problems\n  MLFLOW_BACKEND_STORE_URI carries no password" ;;
         esac
       fi ;;
  esac
  # Redis requires a password (requirepass): Celery's URLs must carry it, redis://:PASSWORD@host:6379/N
  for name in DAGSTER_CELERY_BROKER_URL DAGSTER_CELERY_BACKEND_URL; do
    eval "value=\${$name:-}"
    case "$value" in
      ""|*CHANGE-ME*) ;;
      redis*"://:$REDIS_PASSWORD@"*) ;;  # redis:// or rediss://, password only
      *) problems="$problems\n  $name does not carry REDIS_PASSWORD (redis://:\$REDIS_PASSWORD@redis:6379/N)" ;;
    esac
  done
  open=$(open_hosts "${MLFLOW_ALLOWED_HOSTS:-}")
  if [ -z "$(printf '%s' "${MLFLOW_ALLOWED_HOSTS:-}" | tr -d ', \t')" ]; then
    problems="$problems\n  MLFLOW_ALLOWED_HOSTS is not set"
  elif [ -n "$open" ]; then
    problems="$problems\n  MLFLOW_ALLOWED_HOSTS allows every Host header ($open): name the hosts (a pattern needs a label without wildcards, e.g. *.example.org)"
  fi
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
