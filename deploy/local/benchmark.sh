#!/usr/bin/env bash
# Load figures for the README: runs `leave-worker loadgen` against a cluster that
# deploy/local/cluster.sh brought up, one run per RUN, and prints one Markdown table row each;
# then Postgres' own ceiling (sql/bench/run.sh, pgbench) at each send-only run's concurrency.
#
#   deploy/local/benchmark.sh [--direct] [--duration S] [--rooms R] [--members M] [--drain S] [--no-pgbench] RUN...
#
#   RUN          MODE:CONCURRENCY[:RATE] — MODE is pairs, send-only or make-only; RATE caps the
#                leaves (or make_leaves) started per second. Default: send-only:16 pairs:8 make-only:16
#   --direct     target worker 1 itself instead of the load balancer
#   --duration   seconds per run (default 60); --rooms/--members: rooms per run and joined members
#                per room (default 8 × 12000; every run imports rooms of its own)
#   --drain      after each run, wait up to S seconds for the forwarding backlog to drain, report
#                how long it took and check that every accepted leave reached each played server due
#                it exactly once (`--verify-forwarding`; default 30; 0: neither — with
#                LEAVE_WORKER_SENDER=off)
#
# Example (1 worker, forwarding on to the servers the generator plays):
#   deploy/local/cluster.sh up --workers 1 --port 0
#   deploy/local/benchmark.sh --direct send-only:32 pairs:8 send-only:32:1000 make-only:32
#   deploy/local/cluster.sh down
set -Eeuo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
state=${LEAVE_WORKER_CLUSTER_DIR:-$root/.local/cluster}
[ -f "$state/env" ] || { echo "benchmark: no cluster in $state (deploy/local/cluster.sh up)" >&2; exit 1; }
# shellcheck disable=SC1091
. "$state/env"

direct=false duration=60 rooms=8 members=12000 drain=30 pgbench=true runs=()
while [ $# -gt 0 ]; do
    case "$1" in
        --direct) direct=true; shift ;;
        --duration) duration=$2; shift 2 ;;
        --rooms) rooms=$2; shift 2 ;;
        --members) members=$2; shift 2 ;;
        --drain) drain=$2; shift 2 ;;
        --no-pgbench) pgbench=false; shift ;;
        -*) echo "benchmark: unknown option $1 (see the top of $0)" >&2; exit 1 ;;
        *) runs+=("$1"); shift ;;
    esac
done
[ ${#runs[@]} -gt 0 ] || runs=(send-only:16 pairs:8 make-only:16)
target=$LEAVE_WORKER_CLUSTER_TARGET
$direct && target="http://127.0.0.1:$(cat "$state/worker-1.port")"
workers=$(find "$state" -name 'worker-*.pid' | wc -l)

echo "target $target ($workers worker(s)$($direct && echo ', worker 1 direct' || echo ' behind HAProxy')), ${duration} s per run, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| run | throughput /s | make_leave p50 / p99 ms | send_leave p50 / p99 ms | pair p99 ms | CPU cores: worker / postgres / generator / haproxy / idle | errors | lost | backlog drained after s | delivered exactly once |"
echo "|---|---:|---|---|---:|---|---:|---:|---:|---|"
ceilings=()
for run in "${runs[@]}"; do
    IFS=: read -r mode concurrency rate <<<"$run"
    args=(--target "$target" --mode "$mode" --concurrency "$concurrency" --duration "$duration"
          --rooms "$rooms" --members "$members" --quiet --json)
    [ -n "${rate:-}" ] && args+=(--rate "$rate")
    [ "$drain" != 0 ] && [ "$mode" != make-only ] && args+=(--drain-timeout "$drain" --verify-forwarding)
    report=$("$LEAVE_WORKER_CLUSTER_BIN" loadgen "${args[@]}" 2>/dev/null) || true
    python3 - "$run" "$report" <<'PY'
import json, sys
run, text = sys.argv[1], sys.argv[2]
try:
    r = json.loads(text.strip().splitlines()[-1])
except Exception:
    print(f"| {run} | failed | | | | | | | | |"); sys.exit()
lat = r["latency"]
def pair(name):
    return f'{lat[name]["p50_ms"]:.1f} / {lat[name]["p99_ms"]:.1f}' if name in lat else "–"
cpu = r.get("machine_cpu") or {}
split = " / ".join(f'{cpu.get(k, 0):.2f}' for k in ("leave-worker", "postgres", "generator", "haproxy", "idle"))
pair_p99 = f'{lat["pair"]["p99_ms"]:.1f}' if "pair" in lat else "–"
fwd = r.get("forwarding") or {}
drained = "–" if not fwd else (f'{fwd["drain_seconds"]:.1f}' if fwd.get("drain_seconds") is not None else f'not ({fwd["backlog_left"]} due)')
counts = [fwd.get(k) for k in ("missing", "duplicated", "unexpected", "unauthenticated")]
checked = "–" if fwd.get("expected") is None else (f'yes ({fwd["expected"]} deliveries)' if all(c == 0 for c in counts)
          else "no: missing / duplicated / unexpected / unauthenticated " + " / ".join(str(c) for c in counts))
print(f'| {run} | {r["throughput_per_s"]:.0f} | {pair("make_leave")} | {pair("send_leave")} | {pair_p99} | {split} | {r["failed_requests"]} | {r["lost"]} | {drained} | {checked} |')
PY
    [ "$mode" = send-only ] && ceilings+=("$concurrency")
done
if $pgbench && [ ${#ceilings[@]} -gt 0 ]; then
    echo
    echo "Postgres' ceiling for the same statements (sql/bench/run.sh, pgbench, 30 s):"
    "$root/sql/bench/run.sh" "$(cat "$state/pg/url")" 30 $(printf '%s\n' "${ceilings[@]}" | sort -nu)
fi
