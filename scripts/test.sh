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
swift build --build-tests --force-resolved-versions "$@"
# One test at a time: the suite starts many real worker processes, played servers and raw
# connections; run in parallel on a 2-core machine they starve each other's timers (key fetches
# and back-offs timed out in full runs, never alone). Serial, the Swift Testing part takes ~95 s.
swift test --skip-build --no-parallel "$@"
