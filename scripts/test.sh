#!/usr/bin/env bash
# The whole test suite: installs what is missing, starts a throwaway PostgreSQL on a free
# loopback port for .pg/test-PID (its data under /var/tmp/leave-worker-pg/ when the checkout is
# out of the postgres user's reach: scripts/pg.sh), builds with the pinned dependency versions,
# runs `swift test`, and removes the cluster. Works from any checkout location, as root or not;
# a failed set-up step stops it with one `test.sh:` line naming the step.
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "test.sh: $*" >&2; exit 1; }

scripts/deps.sh --tests || die "installing the build and test dependencies failed (scripts/deps.sh --tests, above)"
pgdir=".pg/test-$$"
cleanup() { scripts/pg.sh remove "$pgdir" || true; }
trap cleanup EXIT
# fsync off: a throwaway cluster; the many CREATE DATABASEs of the tests stay fast.
url=$(PG_FSYNC=off scripts/pg.sh start "$pgdir") || die "the test PostgreSQL did not start (scripts/pg.sh, above)"
[[ "$url" == postgresql://* ]] || die "scripts/pg.sh printed no database URL"
export LEAVE_WORKER_TEST_DATABASE_URL="$url"
export LEAVE_WORKER_TEST_PG_DIR="$PWD/$pgdir"

# Builds use exactly the versions pinned in Package.resolved (committed): resolution may not
# change it, and a build that would is a failure, not a silent upgrade. PinnedDependenciesTests
# then checks that the checked-out packages are the pinned ones.
[ -f Package.resolved ] || die "Package.resolved is missing: the dependency versions must be pinned (commit it)"
pins=$(sha256sum Package.resolved)
swift build --build-tests --force-resolved-versions "$@"
[ "$(sha256sum Package.resolved)" = "$pins" ] \
    || die "the build changed Package.resolved: the pinned versions no longer satisfy Package.swift (git diff Package.resolved)"

# One test at a time: the suite starts many real worker processes, played servers and raw
# connections; run in parallel on a 2-core machine they starve each other's timers (key fetches
# and back-offs timed out in full runs, never alone). Serial, the Swift Testing part takes ~95 s.
swift test --skip-build --no-parallel "$@"
