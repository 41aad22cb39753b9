#!/usr/bin/env bash
# Fault tests under load, on loopback only: each brings up its own cluster (deploy/local/cluster.sh:
# Postgres, 2 workers, HAProxy), drives `leave-worker loadgen` make_leave + send_leave pairs
# through HAProxy for a bounded time, injects one fault at a fixed point of the load, and prints
# what the load saw: requests, 5xx by status, lost leaves (loadgen's own check in Postgres), when
# leaves succeeded again, and whether the workers stayed up.
#
#   deploy/local/faults.sh [--duration S] [--at S] [--rooms R] [--members M] [--concurrency C] [FAULT...]
#
#   FAULT     kill-worker   kill -9 worker 2 at --at s, start it again 5 s later
#             pg-restart    restart the cluster's Postgres (scripts/pg.sh restart, fast) at --at s
#             hung-keys     from --at s for 10 s, 32 clients send requests whose X-Matrix origin's key
#                           server accepts connections and never answers; the load's origins go on
#             default: all three, one after the other
#   --duration  seconds of load per fault (default 30); --at: when the fault starts (default 10)
#   --rooms/--members/--concurrency: passed to loadgen (default 4 × 3000, concurrency 8)
#
# The workers run what cluster.sh chooses (release if built, else debug; LEAVE_WORKER_BUILD_CONFIG
# or LEAVE_WORKER_BIN override). Each fault's state, logs and raw figures go to
# .local/faults/FAULT/ (or $LEAVE_WORKER_FAULTS_DIR/FAULT/); the cluster is stopped and its
# Postgres data removed afterwards. Run it nice'd on a shared machine: `nice -n 10 deploy/local/faults.sh`.
# Recovery times come from loadgen's once-a-second progress line: they are given to the second.
set -Eeuo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${LEAVE_WORKER_FAULTS_DIR:-$root/.local/faults}
duration=30 at=10 rooms=4 members=3000 concurrency=8 faults=()

say() { echo "faults: $*" >&2; }
die() { say "$*"; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --duration) duration=$2; shift 2 ;;
        --at) at=$2; shift 2 ;;
        --rooms) rooms=$2; shift 2 ;;
        --members) members=$2; shift 2 ;;
        --concurrency) concurrency=$2; shift 2 ;;
        kill-worker|pg-restart|hung-keys) faults+=("$1"); shift ;;
        *) die "unknown argument $1 (see the top of $0)" ;;
    esac
done
[ ${#faults[@]} -gt 0 ] || faults=(kill-worker pg-restart hung-keys)
for n in "$duration" "$at" "$rooms" "$members" "$concurrency"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "options take positive whole numbers, not '$n'"
done
[ "$at" -lt "$duration" ] || die "--at ($at) must come before the end of the load (--duration $duration)"
command -v script >/dev/null || die "needs script(1) (util-linux): loadgen prints its progress only to a terminal"

now() { date +%s.%N; }

# The loadgen-clock second (one decimal) that progress file $1 has reached, or nothing yet.
load_seconds() {
    tr '\r' '\n' <"$1" | sed -nE 's/^\[([0-9]+\.[0-9]) s\] leaves.*/\1/p' | tail -n 1
}

# Polls the URLs given (NAME=URL …) every 100 ms until killed (at most 15 minutes), printing
# `SECONDS NAME STATUS` on every change (000 = no answer within 0.5 s).
probe() {
    exec python3 - "$@" <<'PY'
import sys, time, urllib.request, urllib.error
targets = [a.split("=", 1) for a in sys.argv[1:]]
last, end = {}, time.time() + 900
while time.time() < end:
    for name, url in targets:
        try:
            with urllib.request.urlopen(url, timeout=0.5) as r:
                code = r.status
        except urllib.error.HTTPError as e:
            code = e.code
        except Exception:
            code = 0
        if last.get(name) != code:
            last[name] = code
            print(f"{time.time():.3f} {name} {code:03d}", flush=True)
    time.sleep(0.1)
PY
}

# A key server that accepts connections and never answers, on 127.0.0.1:$1, for at most $2
# seconds; prints the count of connections accepted so far at each one.
hanging_key_server() {
    exec python3 - "$1" "$2" <<'PY'
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1024); s.settimeout(0.2)
held, end = [], time.time() + float(sys.argv[2])
while time.time() < end:
    try:
        c, _ = s.accept(); held.append(c)
        print(len(held), flush=True)
    except socket.timeout:
        pass
PY
}

# For $2 seconds, 32 clients each send make_leave requests (one at a time, 30 s client timeout)
# signed — with a syntactically valid X-Matrix header — as origin $1, whose key server hangs.
# Prints one `STATUS SECONDS` line per request.
hung_origin_clients() {
    python3 - "$1" "$2" "$LEAVE_WORKER_CLUSTER_TARGET" "$LEAVE_WORKER_SERVER_NAME" <<'PY'
import base64, sys, threading, time, urllib.request, urllib.error
origin, seconds, target, destination = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
sig = base64.b64encode(bytes(64)).decode().rstrip("=")
header = f'X-Matrix origin="{origin}",destination="{destination}",key="ed25519:k1",sig="{sig}"'
end, lock = time.time() + seconds, threading.Lock()
def client(n):
    i = 0
    while time.time() < end:
        i += 1
        url = f"{target}/_matrix/federation/v1/make_leave/!r{n}x{i}:{destination}/@u:{origin}"
        request = urllib.request.Request(url, headers={"Authorization": header})
        start = time.time()
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                code = r.status
        except urllib.error.HTTPError as e:
            code = e.code
        except Exception:
            code = 0
        with lock:
            print(f"{code:03d} {time.time() - start:.3f}", flush=True)
threads = [threading.Thread(target=client, args=(n,)) for n in range(32)]
for t in threads: t.start()
for t in threads: t.join()
PY
}

# Starts worker $1 of the cluster again on its recorded ports, as cluster.sh does (with the
# executable the cluster's env file names).
restart_worker() {
    local i=$1 port internal
    port=$(cat "$state/worker-$i.port")
    internal=$(cat "$state/worker-$i.internal-port")
    # shellcheck disable=SC2016,SC2153  # $$, $1 and $@ belong to the inner shell; the env file sets the binary
    LEAVE_WORKER_LOG_FORMAT="${LEAVE_WORKER_LOG_FORMAT:-json}" \
        LEAVE_WORKER_LISTEN="127.0.0.1:$port" LEAVE_WORKER_INTERNAL_LISTEN="127.0.0.1:$internal" setsid bash -c 'echo $$ > "$1"; shift; exec "$@" serve' \
        _ "$state/worker-$i.pid" "$LEAVE_WORKER_CLUSTER_BIN" >>"$state/worker-$i.log" 2>&1 </dev/null &
}

# Seconds (two decimals) until URL $1 answers 200, polling every 50 ms, at most $2 seconds.
seconds_until_ready() {
    local start t
    start=$(now)
    for _ in $(seq 1 $(($2 * 20))); do
        [ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$1" || true)" = 200 ] && break
        sleep 0.05
    done
    t=$(now)
    awk -v a="$start" -v b="$t" 'BEGIN { printf "%.2f", b - a }'
}

run_fault() {
    local fault=$1 dir="$out/$1"
    rm -rf "$dir"; mkdir -p "$dir"
    state="$dir/cluster"
    export LEAVE_WORKER_CLUSTER_DIR=$state
    local remotes=2
    [ "$fault" = hung-keys ] && remotes=3
    background=()
    say "$fault: cluster up (2 workers, $remotes remote names)"
    "$root/deploy/local/cluster.sh" up --workers 2 --port 0 --remotes "$remotes" >"$dir/cluster-up.txt" 2>"$dir/cluster-up.log" \
        || { cat "$dir/cluster-up.log" >&2; die "$fault: cluster did not come up"; }
    # shellcheck disable=SC1091
    . "$state/env"
    local played=$LEAVE_WORKER_FEDERATION_OVERRIDES hung_origin="" hung_port=""
    if [ "$fault" = hung-keys ]; then
        # The third remote is the hung one: the workers know it, loadgen does not play it.
        played=$(echo "$LEAVE_WORKER_FEDERATION_OVERRIDES" | cut -d, -f1-2)
        hung_origin=$(echo "$LEAVE_WORKER_FEDERATION_OVERRIDES" | cut -d, -f3 | cut -d= -f1)
        hung_port=$(echo "$LEAVE_WORKER_FEDERATION_OVERRIDES" | cut -d, -f3 | sed -E 's#.*:([0-9]+)$#\1#')
        hanging_key_server "$hung_port" 900 >"$dir/hung-server.txt" &
        background+=($!)
    fi
    # Each worker's internal port: /health and /ready (the federation port may not serve /ready).
    local w1 w2 pid1 pid2_before
    w1="http://127.0.0.1:$(cat "$state/worker-1.internal-port")"
    w2="http://127.0.0.1:$(cat "$state/worker-2.internal-port")"
    pid1=$(cat "$state/worker-1.pid"); pid2_before=$(cat "$state/worker-2.pid")

    probe "worker1-health=$w1/health" "worker1-ready=$w1/ready" "worker2-health=$w2/health" \
        "worker2-ready=$w2/ready" "haproxy-health=$LEAVE_WORKER_CLUSTER_TARGET/health" >"$dir/probe.txt" &
    background+=($!)
    local load_before
    load_before=$(cut -d' ' -f1-3 /proc/loadavg)
    # script(1) gives loadgen a terminal, so that it prints its progress line once a second.
    local loadgen_command
    loadgen_command=$(printf '%q ' "$LEAVE_WORKER_CLUSTER_BIN" loadgen --target "$LEAVE_WORKER_CLUSTER_TARGET" \
        --federation-overrides "$played" --mode pairs --concurrency "$concurrency" --duration "$duration" \
        --rooms "$rooms" --members "$members" --json)
    script -qfec "$loadgen_command" /dev/null >"$dir/loadgen.txt" 2>&1 </dev/null &
    local loadgen=$!
    background+=("$loadgen")

    # Wait for the load to reach --at seconds on loadgen's own clock (setup and import come first).
    local reached="" fault_time
    while kill -0 "$loadgen" 2>/dev/null; do
        reached=$(load_seconds "$dir/loadgen.txt")
        [ -n "$reached" ] && awk -v r="$reached" -v a="$at" 'BEGIN { exit !(r >= a) }' && break
        sleep 0.05
    done
    [ -n "$reached" ] || { cat "$dir/loadgen.txt" >&2; die "$fault: loadgen did not start its load"; }
    fault_time=$(now)
    local restart_ready=""
    case "$fault" in
        kill-worker)
            kill -KILL "$pid2_before"
            say "$fault: kill -9 worker 2 (pid $pid2_before) at load second $reached"
            sleep 5
            restart_worker 2
            restart_ready=$(seconds_until_ready "$w2/ready" 30)
            say "$fault: worker 2 started again, ready after $restart_ready s"
            ;;
        pg-restart)
            say "$fault: restarting Postgres at load second $reached"
            local pg_start pg_end
            pg_start=$(now)
            "$root/scripts/pg.sh" restart "$state/pg"
            pg_end=$(now)
            restart_ready=$(awk -v a="$pg_start" -v b="$pg_end" 'BEGIN { printf "%.2f", b - a }')
            say "$fault: Postgres restarted in $restart_ready s"
            ;;
        hung-keys)
            say "$fault: origin $hung_origin's key server hangs; 32 clients send as it for 10 s from load second $reached"
            hung_origin_clients "$hung_origin" 10 >"$dir/hung-clients.txt"
            ;;
    esac
    local loadgen_status=0
    wait "$loadgen" || loadgen_status=$?
    local load_after
    load_after=$(cut -d' ' -f1-3 /proc/loadavg)
    stop_background
    local pid2_after alive1=no alive2=no
    pid2_after=$(cat "$state/worker-2.pid")
    kill -0 "$pid1" 2>/dev/null && alive1=yes
    kill -0 "$pid2_after" 2>/dev/null && alive2=yes
    "$root/deploy/local/cluster.sh" down --purge >/dev/null 2>&1 || true

    python3 - "$fault" "$dir" "$fault_time" "$reached" "$loadgen_status" "$load_before" "$load_after" \
        "$restart_ready" "$alive1" "$alive2" "$pid1" "$pid2_before" "$pid2_after" \
        "$LEAVE_WORKER_CLUSTER_BIN" <<'PY'
import json, re, sys
(fault, d, fault_time, reached, status, load_before, load_after, restart_ready,
 alive1, alive2, pid1, pid2_before, pid2_after, binary) = sys.argv[1:]
# The fault came at load second `at` (loadgen's clock, to the 0.1 s of its progress line).
fault_time, at = float(fault_time), float(reached)
raw = open(f"{d}/loadgen.txt", errors="replace").read()
report = None
for line in re.split(r"[\r\n]+", raw):
    if line.startswith('{"'):
        report = json.loads(line)
progress = [(float(t), int(a), int(e)) for t, a, e in
            re.findall(r"\[([0-9.]+) s\] leaves \d+  accepted (\d+)  rate -?\d+/s  errors (\d+)", raw)]
# Loadgen's once-a-second intervals: (start, end in load seconds, leaves accepted in it, failures in it)
intervals, previous = [], (0.0, 0, 0)
for t, a, e in progress:
    intervals.append((previous[0], t, a - previous[1], e - previous[2])); previous = (t, a, e)
after = [i for i in intervals if i[1] > at]
first_success = next((i[1] - at for i in after if i[2] > 0), None)
erring = [i for i in after if i[3] > 0]
last_error = (erring[-1][1] - at) if erring else None
steady = [i for i in intervals if i[1] <= at and i[0] >= 1]
baseline = sum(i[2] for i in steady) / sum(i[1] - i[0] for i in steady) if steady else 0
lines = [f"## {fault}", ""]
if report is None:
    lines.append(f"loadgen printed no report (exit {status}); see {d}/loadgen.txt")
else:
    errors = report["errors"]
    five = {}
    for e in errors:
        if (e.get("status") or 0) >= 500:
            five[e["status"]] = five.get(e["status"], 0) + e["count"]
    other = [e for e in errors if not (e.get("status") or 0) >= 500]
    lines += [
        f"- workers: {binary}",
        f"- load: pairs through HAProxy, concurrency {report['concurrency']}, {report['elapsed_s']:.1f} s, "
        f"fault at load second {at:.1f}; machine load average {load_before} before, {load_after} after",
        f"- requests: {report['attempted']} pairs attempted, {report['accepted']} accepted "
        f"({report['throughput_per_s']:.0f}/s over the run, {baseline:.0f}/s before the fault, stopped by {report['stop_reason']}); "
        f"failed requests {report['failed_requests']}",
        "- 5xx: " + (", ".join(f"{k}: {v}" for k, v in sorted(five.items())) or "none"),
        "- other failures: " + ("; ".join(f"{e['endpoint']} {e['status']} {e['detail']}: {e['count']}" for e in other) or "none"),
        f"- lost leaves: {report['lost']}",
        f"- first accepted leave after the fault: within {first_success:.1f} s (progress-line second)" if first_success is not None
        else "- no leave accepted after the fault",
        f"- last failed request: in the second ending {last_error:.1f} s after the fault" if last_error is not None
        else "- no request failed after the fault",
        f"- machine CPU (cores): " + ", ".join(f"{k} {v:.2f}" for k, v in (report.get("machine_cpu") or {}).items()),
    ]
if fault == "kill-worker":
    lines.append(f"- worker 2 (pid {pid2_before}) killed; started again 5 s later (pid {pid2_after}), ready after {restart_ready} s; "
                 f"worker 1 (pid {pid1}) stayed up: {alive1}; worker 2 up at the end: {alive2}")
elif fault == "pg-restart":
    lines.append(f"- Postgres restart (fast shutdown + start) took {restart_ready} s; "
                 f"workers stayed up (same pids): worker 1 {alive1}, worker 2 {alive2 if pid2_before == pid2_after else 'restarted'}")
else:
    rows = [l.split() for l in open(f"{d}/hung-clients.txt") if l.strip()]
    by = {}
    for code, secs in rows:
        by.setdefault(code, []).append(float(secs))
    summary = "; ".join(f"{c}: {len(v)} (max {max(v):.2f} s)" for c, v in sorted(by.items()))
    lines.append(f"- hung origin's requests: {len(rows)} — {summary}")
    accepted = [l.strip() for l in open(f"{d}/hung-server.txt") if l.strip()]
    lines.append(f"- connections the workers opened to the hung key server: {accepted[-1] if accepted else 0}")
    lines.append(f"- workers stayed up: worker 1 {alive1}, worker 2 {alive2}")
lines.append("- leaves accepted per second (| = fault): " + " ".join(
    ("| " if i[0] <= at < i[1] else "") + str(i[2]) for i in intervals))
# Readiness changes seen by the 100 ms prober, relative to the fault.
changes = [l.split() for l in open(f"{d}/probe.txt") if l.strip()]
seen = [f"{n} {c} at {float(t) - fault_time:+.1f} s" for t, n, c in changes if float(t) >= fault_time - 0.5]
lines.append("- readiness changes (100 ms prober): " + ("; ".join(seen) or "none"))
text = "\n".join(lines) + "\n"
open(f"{d}/summary.md", "w").write(text)
print(text)
PY
}

# The prober, the hanging key server and loadgen of the fault in progress: stopped when it ends,
# or when this script stops early.
background=()
stop_background() {
    local pid
    for pid in "${background[@]}"; do kill "$pid" 2>/dev/null || true; done
    background=()
}
trap 'stop_background; [ -n "${state:-}" ] && "$root/deploy/local/cluster.sh" down --purge >/dev/null 2>&1 || true' EXIT

mkdir -p "$out"
echo "# Fault tests $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$root" rev-parse --short HEAD), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
for fault in "${faults[@]}"; do
    run_fault "$fault"
done
