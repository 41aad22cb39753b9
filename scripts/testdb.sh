#!/usr/bin/env bash
# Runs a command against a development PostgreSQL under .pg/dev (started once, left running),
# with the variables the storage and worker tests read. For quick targeted runs, e.g.
#   scripts/testdb.sh swift test --filter RejectionTests
# `scripts/pg.sh stop .pg/dev` stops it; scripts/test.sh uses its own throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
url=$(PG_FSYNC=off scripts/pg.sh start .pg/dev) || { echo "testdb: cannot start PostgreSQL under .pg/dev" >&2; exit 1; }
export LEAVE_WORKER_TEST_DATABASE_URL=$url
export LEAVE_WORKER_TEST_PG_DIR=$PWD/.pg/dev
exec "$@"
