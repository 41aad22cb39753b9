#!/usr/bin/env bash
# The whole test suite: installs what is missing, starts a throwaway PostgreSQL
# on a free loopback port under .pg/, runs `swift test`, and removes the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
pgdir=".pg/test-$$"
cleanup() { scripts/pg.sh stop "$pgdir" || true; rm -rf "$pgdir"; }
trap cleanup EXIT
# fsync off: a throwaway cluster; the many CREATE DATABASEs of the tests stay fast.
export LEAVE_WORKER_TEST_DATABASE_URL=$(PG_FSYNC=off scripts/pg.sh start "$pgdir")
export LEAVE_WORKER_TEST_PG_DIR="$PWD/$pgdir"
swift build --build-tests "$@"
swift test --skip-build "$@"
