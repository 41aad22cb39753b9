#!/usr/bin/env bash
# Sets everything up and runs the worker locally: installs what is missing, builds, starts a
# PostgreSQL cluster under .local/pg (kept between runs), generates a signing key, applies
# the migrations, imports a demo room and serves on LEAVE_WORKER_LISTEN (default 127.0.0.1:8448).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
swift build --product leave-worker
bin="$(swift build --show-bin-path)/leave-worker"

mkdir -p .local
admin_url=$(scripts/pg.sh start .local/pg)
base=${admin_url%/postgres}
psql "$admin_url" -tAc "SELECT 1 FROM pg_database WHERE datname = 'leave_worker'" | grep -q 1 \
    || psql "$admin_url" -qc "CREATE DATABASE leave_worker"

export LEAVE_WORKER_DATABASE_URL="$base/leave_worker"
export LEAVE_WORKER_SERVER_NAME=${LEAVE_WORKER_SERVER_NAME:-localhost:8448}
export LEAVE_WORKER_SIGNING_KEY=${LEAVE_WORKER_SIGNING_KEY:-$PWD/.local/signing.key}
export LEAVE_WORKER_SQL_DIR="$PWD/sql"
if [ ! -s "$LEAVE_WORKER_SIGNING_KEY" ]; then
    (umask 077; "$bin" generate-key > "$LEAVE_WORKER_SIGNING_KEY")
    echo "generated signing key $LEAVE_WORKER_SIGNING_KEY"
fi
"$bin" migrate
echo "database: $LEAVE_WORKER_DATABASE_URL  (stop it with: scripts/pg.sh stop .local/pg)"
exec "$bin" serve
