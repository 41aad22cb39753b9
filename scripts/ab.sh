#!/usr/bin/env bash
# A/B throughput of two leave-worker builds, alternated on fresh local clusters.
#
#   scripts/ab.sh --a PATH --b PATH [--a-root DIR] [--b-root DIR] [--runs N] [--generator PATH]
#                 [--remotes N] [--pgbench] [--unverified] [-- LOADGEN OPTIONS...]
#   e.g. scripts/ab.sh --a /tmp/main/leave-worker --b .build/release/leave-worker --runs 2 -- \
#            --mode send-only --concurrency 32 --rooms 8 --members 16000 --duration 60 --drain-timeout 60
#
# --a-root/--b-root: a checkout of that build's commit, whose sql/ (migrations, and sql/bench for
# --pgbench) its cluster uses — an older build must run on its own schema; default this checkout.
# Each run, for A then B: `deploy/local/cluster.sh up --workers 1 --port 0 --bin X [--remotes N]`
# (its own state directory, .local/ab/cluster), `loadgen --json` against worker 1 directly, with
# --pgbench `sql/bench/run.sh` (8 clients, 20 s) on that cluster's Postgres, then `down --purge`.
# loadgen runs with --verify-forwarding (the played servers record what they receive, and the run
# fails unless every accepted leave reached each server due it exactly once, X-Matrix signed by the
# resident server) unless --unverified: a 1,000-server room's six million deliveries would not fit
# in memory recorded.
# Prints one row per run and build (scripts/ab-row.py: rate, p50/p99, CPU ms per leave of worker,
# Postgres and generator, backlog drain, failures, lost, pgbench tps); the reports stay in
# .local/ab/RESULTS/. The binaries are copied as .../A/leave-worker and .../B/leave-worker (the CPU
# split counts processes named leave-worker). One generator serves both builds, so that only the
# worker differs: --generator, else B. Loadgen options default to --mode send-only --concurrency 32
# --rooms 8 --members 16000 --duration 60 --drain-timeout 60. Needs a quiet machine to mean much.
set -Eeuo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "ab: $*" >&2; }
die() { say "$*"; exit 1; }

a="" b="" a_root=$root b_root=$root runs=1 generator="" remotes=2 pgbench=false verify=true
while [ $# -gt 0 ]; do
    case "$1" in
        --a) a=$2; shift 2 ;;
        --b) b=$2; shift 2 ;;
        --a-root) a_root=$(cd "$2" && pwd); shift 2 ;;
        --b-root) b_root=$(cd "$2" && pwd); shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --generator) generator=$2; shift 2 ;;
        --remotes) remotes=$2; shift 2 ;;
        --pgbench) pgbench=true; shift ;;
        --unverified) verify=false; shift ;;
        --) shift; break ;;
        *) die "unknown option $1 (see the header of scripts/ab.sh)" ;;
    esac
done
loadgen_options=("$@")
[ ${#loadgen_options[@]} -gt 0 ] || loadgen_options=(--mode send-only --concurrency 32 --rooms 8 --members 16000
                                                     --duration 60 --drain-timeout 60)
if $verify && [[ " ${loadgen_options[*]} " != *" --verify-forwarding "* ]]; then loadgen_options+=(--verify-forwarding); fi
[ -x "$a" ] && [ -x "$b" ] || die "--a and --b must name leave-worker executables"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive number"
[ -z "$generator" ] || [ -x "$generator" ] || die "--generator must name a leave-worker executable"

results="$root/.local/ab/$(date -u +%Y%m%dT%H%M%SZ)"
export LEAVE_WORKER_CLUSTER_DIR="$root/.local/ab/cluster"
mkdir -p "$results/A" "$results/B"
cp "$a" "$results/A/leave-worker"
cp "$b" "$results/B/leave-worker"
cp "${generator:-$b}" "$results/generator"

cluster_up=false
cleanup() {
    if $cluster_up; then "$root/deploy/local/cluster.sh" down --purge >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# One cluster for build $2 (A or B) in run $1: up, loadgen, optionally pgbench, down; prints the row.
measure() {
    local run=$1 build=$2 report="$results/run-$1-$2.json" tps="" build_root=$a_root
    [ "$build" = A ] || build_root=$b_root
    [ -f "$build_root/sql/0001_rooms_and_events.sql" ] || die "$build_root has no sql/ migrations"
    LEAVE_WORKER_CLUSTER_SQL_DIR="$build_root/sql" "$root/deploy/local/cluster.sh" up --workers 1 --port 0 --remotes "$remotes" --bin "$results/$build/leave-worker" \
        >"$results/run-$run-$build.cluster.log" 2>&1 || die "cluster up failed (see $results/run-$run-$build.cluster.log)"
    cluster_up=true
    (
        # shellcheck disable=SC1091  # written by cluster.sh up
        . "$LEAVE_WORKER_CLUSTER_DIR/env"
        "$results/generator" loadgen --target "http://127.0.0.1:$(cat "$LEAVE_WORKER_CLUSTER_DIR/worker-1.port")" \
            --json "${loadgen_options[@]}"
    ) >"$report" 2>"$results/run-$run-$build.loadgen.log" || die "loadgen failed (see $results/run-$run-$build.loadgen.log)"
    if $pgbench; then
        tps=$("$build_root/sql/bench/run.sh" "$("$root/scripts/pg.sh" url "$LEAVE_WORKER_CLUSTER_DIR/pg")" 20 8 2>>"$results/run-$run-$build.pgbench.log" \
              | sed -n 's/^clients=8 tps=//p')
    fi
    "$root/deploy/local/cluster.sh" down --purge >/dev/null 2>&1 || say "cluster down failed"
    cluster_up=false
    python3 "$root/scripts/ab-row.py" "$report" "$run" "$build" ${tps:+"$tps"}
}

say "A $a, B $b, generator ${generator:-B}, $runs run(s): loadgen ${loadgen_options[*]}; reports in $results"
python3 "$root/scripts/ab-row.py" --header
for run in $(seq 1 "$runs"); do
    measure "$run" A
    measure "$run" B
done
