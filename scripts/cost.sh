#!/usr/bin/env bash
# CPU, context switches and (optionally) mallocs per request of one leave-worker build at a fixed
# request rate — a second instrument beside scripts/ab.sh's throughput, steadier on a noisy box
# because it counts work done rather than how fast the box was. (`scripts/ab.sh -- --rate N …`
# gives CPU per leave at a fixed rate too, over the whole run from the generator's CPU split; this
# adds a window after warm-up, the worker's own request count, context switches and mallocs.)
#
#   scripts/cost.sh --bin PATH [--mode pairs|send-only|make-only] [--rate N] [--window S] [--mallocs]
#   e.g. LD_PRELOAD= scripts/cost.sh --bin .build/release/leave-worker --mode pairs --rate 600 --mallocs
#
# Starts `deploy/local/cluster.sh up --workers 1 --port 0 --bin PATH` (state in .local/cost/cluster;
# the worker's allocator as cluster.sh chooses it: jemalloc when installed, unless LD_PRELOAD is
# set, even empty), runs `loadgen --rate N --concurrency 16` (8 rooms × 8,000 members) for
# 8 s of warm-up plus the window(s), and prints one line: requests counted by the worker's own
# `leave_worker_requests_total` (200s of send_leave, or of make_leave in make-only mode), and per
# request (per pair in pairs mode) the worker's CPU ms, Postgres' CPU ms (all its processes) and the
# worker's context switches, from /proc over the window. --mallocs adds a second window under a
# uprobe on glibc's malloc (`perf probe`; needs perf, and glibc's malloc: run with LD_PRELOAD=),
# which slows the worker, so its CPU is not counted then. Then `down --purge`.
set -Eeuo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "cost: $*" >&2; }
die() { say "$*"; exit 1; }

bin="" mode=pairs rate=600 window=10 mallocs=false
while [ $# -gt 0 ]; do
    case "$1" in
        --bin) bin=$2; shift 2 ;;
        --mode) mode=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --window) window=$2; shift 2 ;;
        --mallocs) mallocs=true; shift ;;
        *) die "unknown option $1 (see the header of scripts/cost.sh)" ;;
    esac
done
[ -x "$bin" ] || die "--bin must name a leave-worker executable"
[[ "$rate" =~ ^[1-9][0-9]*$ && "$window" =~ ^[1-9][0-9]*$ ]] || die "--rate and --window must be positive numbers"
case "$mode" in
    pairs) route=send_leave_v2 unit=pair ;;
    send-only) route=send_leave_v2 unit=leave ;;
    make-only) route=make_leave unit=make_leave ;;
    *) die "--mode: pairs, send-only or make-only" ;;
esac

export LEAVE_WORKER_CLUSTER_DIR="$root/.local/cost/cluster"
cleanup() { "$root/deploy/local/cluster.sh" down --purge >/dev/null 2>&1 || true; }
trap cleanup EXIT
"$root/deploy/local/cluster.sh" up --workers 1 --port 0 --bin "$bin" >/dev/null 2>&1 || die "cluster up failed"
state=$LEAVE_WORKER_CLUSTER_DIR
worker=$(cat "$state/worker-1.pid")
ticks=$(getconf CLK_TCK)

# Worker CPU ticks, Postgres CPU ticks, worker context switches, requests answered 200 on $route.
sample() {
    local cpu pg switches requests
    cpu=$(awk '{print $14 + $15}' "/proc/$worker/stat")
    pg=$(for pid in $(pgrep -x postgres); do awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null; done | awk '{s += $1} END {print s + 0}')
    switches=$(cat /proc/"$worker"/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s + 0}')
    requests=$(curl -s "http://127.0.0.1:$(cat "$state/worker-1.internal-port")/metrics" \
        | awk -v r="route=\"$route\"" 'index($0, "leave_worker_requests_total{") == 1 && index($0, r) && index($0, "status=\"200\"") {s += $NF} END {print s + 0}')
    echo "$cpu $pg $switches $requests"
}

duration=$((8 + window + 2))
if $mallocs; then duration=$((duration + window + 2)); fi
(
    # shellcheck disable=SC1091  # written by cluster.sh up
    . "$state/env"
    "$bin" loadgen --target "http://127.0.0.1:$(cat "$state/worker-1.port")" --mode "$mode" --rate "$rate" \
        --concurrency 16 --rooms 8 --members 8000 --duration "$duration" --drain-timeout 30
) >"$state/loadgen.log" 2>&1 &
loadgen=$!
sleep 8
read -r cpu0 pg0 sw0 req0 < <(sample)
sleep "$window"
read -r cpu1 pg1 sw1 req1 < <(sample)
requests=$((req1 - req0))
[ "$requests" -gt 0 ] || die "no $route requests answered in the window (see $state/loadgen.log)"
line=$(python3 -c "t, n = $ticks, $requests; print(f'{n / $window:.0f} ${unit}s/s: worker {($cpu1 - $cpu0) * 1000 / t / n:.3f} ms, postgres {($pg1 - $pg0) * 1000 / t / n:.3f} ms, {($sw1 - $sw0) / n:.1f} switches per $unit')")
if $mallocs; then
    perf probe -q -x "$(ldd "$bin" | awk '/libc\.so\.6/ {print $3; exit}')" malloc 2>/dev/null || true
    read -r _ _ _ req2 < <(sample)
    count=$(perf stat -x, -e probe_libc:malloc -p "$worker" -- sleep "$window" 2>&1 | awk -F, '/probe_libc:malloc/ {print $1}')
    read -r _ _ _ req3 < <(sample)
    [ "$((req3 - req2))" -gt 0 ] && line="$line, $((count / (req3 - req2))) mallocs per $unit"
fi
wait "$loadgen" || say "loadgen ended with an error (see $state/loadgen.log)"
allocator="cluster.sh's choice"
if [ -n "${LD_PRELOAD+set}" ]; then allocator=${LD_PRELOAD:-glibc}; fi
echo "$bin, $mode at $rate/s, allocator $allocator: $line"
