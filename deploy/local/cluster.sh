#!/usr/bin/env bash
# The container deployment (deploy/compose.yaml) on this machine, without containers: a
# PostgreSQL cluster, `leave-worker migrate`, a signing key, N workers on their own loopback
# ports (each with its internal listener on another port) and HAProxy in front of them
# (deploy/haproxy/haproxy.cfg: health checks on the internal ports' /ready, TLS with --tls).
#
#   deploy/local/cluster.sh up [--workers N] [--port P] [--tls] [--config release|debug] [--bin PATH] [--remotes N]
#   deploy/local/cluster.sh status
#   deploy/local/cluster.sh down [--purge]
#
# up       starts everything and prints the URLs; fails (and stops what it started) if any
#          part is not ready in time.
#            --workers N   worker processes (default 2)
#            --port P      HAProxy's port on 127.0.0.1 (default 8448; 0 = any free port)
#            --tls         HAProxy terminates TLS on that port, with a throwaway self-signed
#                          certificate for localhost and 127.0.0.1 made by openssl in $state/tls/
#                          (cert.pem is also the CA file clients verify it with:
#                          curl --cacert .local/cluster/tls/cert.pem https://localhost:8448/health)
#            --config C    which build the workers run: `release` or `debug` (env
#                          LEAVE_WORKER_BUILD_CONFIG); default: release if .build/release/leave-worker
#                          exists, else debug. It is brought up to date with `swift build` first.
#            --bin PATH    run this leave-worker executable instead, as it is (env LEAVE_WORKER_BIN)
#            --remotes N   remote homeservers named in the federation overrides, for
#                          `leave-worker loadgen` to play on free loopback ports (default 2)
# status   prints each part, its PID and whether it answers.
# down     stops what `up` started, by the PIDs it recorded; --purge also deletes the state.
#
# Env LEAVE_WORKER_CLUSTER_PG_STATS=1 (for profiling): Postgres starts with pg_stat_statements
# (track = all: statements inside store_leaves/import_room too; `toplevel` tells them apart) and
# track_io_timing, and the extension is created in the leave_worker database. Read it with e.g.
#   psql "$LEAVE_WORKER_DATABASE_URL" -c "SELECT calls, total_exec_time, mean_exec_time, query
#     FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 20"
# (SELECT pg_stat_statements_reset() before a run). Set when the cluster's Postgres first starts.
#
# State (PIDs, logs, the Postgres data, the key, an `env` file to source for loadgen) lives in
# .local/cluster/ (git-ignored), or in $LEAVE_WORKER_CLUSTER_DIR. worker-N.port is worker N's
# federation port, worker-N.internal-port the port of its /ready and /metrics (its internal
# listener, LEAVE_WORKER_INTERNAL_LISTEN; the federation port for a leave-worker without one).
# The migrations are this checkout's sql/, or $LEAVE_WORKER_CLUSTER_SQL_DIR (another build's, for
# scripts/ab.sh --a-root).
set -Eeuo pipefail
PATH=$PATH:/usr/sbin:/sbin   # haproxy lives there on Debian, outside a normal user's PATH
root=$(cd "$(dirname "$0")/../.." && pwd)
state=${LEAVE_WORKER_CLUSTER_DIR:-$root/.local/cluster}

say() { echo "cluster: $*" >&2; }
die() { say "$*"; exit 1; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# N distinct ports free now, for the remote homeservers `loadgen` plays later (and the load
# balancer, bound after the workers are up): taken below the kernel's ephemeral range (so that no
# outgoing connection — to a worker, to Postgres — is given one meanwhile, and no free_port above
# collides with them), each checked by binding it, all held until all are found (so none is handed
# out twice).
free_ports_below_ephemeral() {
    python3 - "$1" <<'PY'
import random, socket, sys
wanted = int(sys.argv[1])
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
# From a random start (wrapping): the ports are only bound later, by the load generator, so two
# clusters started one after the other must not be handed the same ones.
first = 10000 if low > 10000 + wanted else 1024
span = low - first
start = random.randrange(span)
held = []
for offset in range(span):
    if len(held) == wanted:
        break
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", first + (start + offset) % span))
        held.append(s)
    except OSError:
        s.close()
if len(held) < wanted:
    sys.exit("not enough free ports below the ephemeral range")
print(" ".join(str(s.getsockname()[1]) for s in held))
PY
}

port_is_free() {
    python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1",int(sys.argv[1])))' "$1" 2>/dev/null
}

# The HTTP status of GET URL, or 000 when nothing answers (https: verified with the cluster's
# certificate).
http_status() {
    local cacert=()
    [ -f "$state/tls/cert.pem" ] && cacert=(--cacert "$state/tls/cert.pem")
    curl -s "${cacert[@]}" -o /dev/null -m 2 -w '%{http_code}' "$1" || true
}

# Whether the process in pidfile $1 runs and its command line mentions $2 (guards against a
# recycled PID).
# What a worker's command line holds (`$bin serve`, whatever the binary is called), for alive/stop_pid.
worker_mark=" serve "

alive() {
    local pid
    [ -f "$1" ] || return 1
    pid=$(cat "$1")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$2"
}

# Stops the process in pidfile $1 (named $2 in its command line): TERM, then KILL after 10 s.
stop_pid() {
    local pidfile=$1 name=$2 pid i
    if alive "$pidfile" "$name"; then
        pid=$(cat "$pidfile")
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 100); do
            alive "$pidfile" "$name" || break
            sleep 0.1
        done
        if alive "$pidfile" "$name"; then
            say "pid $pid ($(basename "$pidfile" .pid)) did not stop in 10 s: KILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        say "stopped $(basename "$pidfile" .pid) (pid $pid)"
    fi
    rm -f "$pidfile"
}

# Waits until URL answers 200 (at most $2 seconds; fails at once if the process of pidfile $3,
# when given, exits); prints the seconds it took (polling every 50 ms: at most that much late).
wait_ready() {
    local url=$1 limit=$2 pidfile=${3:-} start now
    start=$(date +%s.%N)
    while :; do
        [ "$(http_status "$url")" = 200 ] && break
        if [ -n "$pidfile" ] && [ -s "$pidfile" ] && ! alive "$pidfile" "$worker_mark"; then return 1; fi
        now=$(date +%s.%N)
        if awk -v a="$start" -v b="$now" -v l="$limit" 'BEGIN { exit !(b - a > l) }'; then return 1; fi
        sleep 0.05
    done
    now=$(date +%s.%N)
    awk -v a="$start" -v b="$now" 'BEGIN { printf "%.2f", b - a }'
}

# The leave-worker executable the workers run (builds it unless --bin was given).
resolve_binary() {
    local bin=$1 config=$2
    if [ -n "$bin" ]; then
        [ -x "$bin" ] || die "--bin $bin is not an executable"
        (cd "$(dirname "$bin")" && echo "$PWD/$(basename "$bin")")
        return
    fi
    if [ -z "$config" ]; then
        if [ -x "$root/.build/release/leave-worker" ]; then config=release; else config=debug; fi
    fi
    case "$config" in release|debug) ;; *) die "--config must be release or debug, not $config" ;; esac
    say "building leave-worker ($config) — the workers run the $config build; choose with --config release|debug"
    swift build --package-path "$root" -c "$config" --product leave-worker >&2
    echo "$(swift build --package-path "$root" -c "$config" --show-bin-path)/leave-worker"
}

# The allocator the workers run with, as the Dockerfile sets it: jemalloc when the machine has it
# (Debian package libjemalloc2), else glibc's malloc. LD_PRELOAD set (even empty) in the
# environment wins.
worker_preload() {
    if [ -n "${LD_PRELOAD+set}" ]; then echo "$LD_PRELOAD"
    elif /sbin/ldconfig -p 2>/dev/null | grep -q 'libjemalloc\.so\.2 '; then echo libjemalloc.so.2
    else say "libjemalloc2 is not installed (scripts/deps.sh installs it): the workers run on glibc's malloc, not as in the image"
    fi
}

# Starts `$bin serve` detached from this shell (federation port $2, internal listener on $3);
# its own PID goes to the pidfile. TZ as the Dockerfile sets it: with TZ unset, glibc stats
# /etc/localtime on every text log line (0.5–0.9 % of a worker's CPU under load, strace). Logs
# as the manifests write them, one JSON object per line, unless LEAVE_WORKER_LOG_FORMAT says
# otherwise (text is easier to read in a terminal; the figures in the README are of json).
start_worker() {
    local index=$1 port=$2 internal=$3
    # shellcheck disable=SC2016  # $$, $1 and $@ belong to the inner shell
    LD_PRELOAD="$(worker_preload)" TZ="${TZ-:/etc/localtime}" LEAVE_WORKER_LOG_FORMAT="${LEAVE_WORKER_LOG_FORMAT:-json}" \
        LEAVE_WORKER_LISTEN="127.0.0.1:$port" LEAVE_WORKER_INTERNAL_LISTEN="127.0.0.1:$internal" \
        setsid bash -c 'echo $$ > "$1"; shift; exec "$@" serve' \
        _ "$state/worker-$index.pid" "$bin" >"$state/worker-$index.log" 2>&1 </dev/null &
    echo "$port" >"$state/worker-$index.port"
}

# Starts worker $1 and waits until it is ready (at most 30 s); records where its /ready and
# /metrics answer (worker-N.internal-port) and prints the seconds from start to ready.
start_ready_worker() {
    local i=$1 port internal started ready
    port=$(free_port); internal=$(free_port)
    start_worker "$i" "$port" "$internal"
    started=$(wait_ready "http://127.0.0.1:$port/health" 30 "$state/worker-$i.pid") || return 1
    if [ "$(http_status "http://127.0.0.1:$internal/health")" != 200 ]; then
        say "worker $i: no internal listener on $internal (a leave-worker without LEAVE_WORKER_INTERNAL_LISTEN): /ready and /metrics on its federation port"
        internal=$port
    fi
    echo "$internal" >"$state/worker-$i.internal-port"
    ready=$(wait_ready "http://127.0.0.1:$internal/ready" 30 "$state/worker-$i.pid") || return 1
    awk -v a="$started" -v b="$ready" 'BEGIN { printf "%.2f", a + b }'
}

# A throwaway self-signed certificate for localhost and 127.0.0.1 (made anew by each `up --tls`,
# in $state/tls/): cert.pem for clients to verify with, haproxy.pem (certificate + key) for HAProxy.
make_certificate() {
    local dir="$state/tls"
    mkdir -p "$dir"
    (umask 077; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
        -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>"$dir/openssl.log") \
        || die "openssl could not make the throwaway certificate ($dir/openssl.log)"
    (umask 077; cat "$dir/cert.pem" "$dir/key.pem" >"$dir/haproxy.pem")
}

# deploy/haproxy/haproxy.cfg with this machine's addresses in the marked lines (each worker
# checked on its internal port).
haproxy_config() {
    local lb_port=$1 stats_port=$2 servers="" i
    local bind="    bind 127.0.0.1:$lb_port"
    $tls && bind+=" ssl crt $state/tls/haproxy.pem alpn http/1.1"
    for i in $(seq 1 "$workers"); do
        servers+="    server worker-$i 127.0.0.1:$(cat "$state/worker-$i.port") port $(cat "$state/worker-$i.internal-port")\n"
    done
    awk -v bind="$bind" -v stats="    bind 127.0.0.1:$stats_port" -v servers="$servers" '
        /# @bind$/ { print bind; next }
        /# @stats$/ { print stats; next }
        /# @servers$/ { if (!done) { printf "%s", servers; done = 1 }; next }
        { print }' "$root/deploy/haproxy/haproxy.cfg"
}

cmd_up() {
    workers=2 lb_port=8448 remotes=2 tls=false
    local config=${LEAVE_WORKER_BUILD_CONFIG:-} bin_arg=${LEAVE_WORKER_BIN:-}
    while [ $# -gt 0 ]; do
        case "$1" in
            --workers) workers=$2; shift 2 ;;
            --port) lb_port=$2; shift 2 ;;
            --tls) tls=true; shift ;;
            --config) config=$2; shift 2 ;;
            --bin) bin_arg=$2; shift 2 ;;
            --remotes) remotes=$2; shift 2 ;;
            *) die "unknown option $1 (see the top of $0)" ;;
        esac
    done
    [[ "$workers" =~ ^[1-9][0-9]*$ ]] || die "--workers must be a positive number"
    [[ "$remotes" =~ ^[1-9][0-9]*$ ]] || die "--remotes must be a positive number"
    [[ "$lb_port" =~ ^[0-9]+$ ]] || die "--port must be a number"
    if alive "$state/haproxy.pid" haproxy || ls "$state"/worker-*.pid >/dev/null 2>&1; then
        die "a cluster is already up in $state (deploy/local/cluster.sh status / down)"
    fi
    # The remotes' ports and, with --port 0, the load balancer's: below the ephemeral range, so that
    # no outgoing connection (a worker's to Postgres) is given the load balancer's port before
    # HAProxy binds it, after the workers are up — an ephemeral free port was, once.
    local remote_ports
    remote_ports=$(free_ports_below_ephemeral $((remotes + 1))) || die "cannot find $((remotes + 1)) free ports for the remotes and the load balancer"
    [ "$lb_port" = 0 ] && lb_port=${remote_ports%% *}
    remote_ports=${remote_ports#* }
    port_is_free "$lb_port" || die "port $lb_port is in use: choose another with --port (0 = any free port)"

    "$root/scripts/deps.sh"
    bin=$(resolve_binary "$bin_arg" "$config")
    mkdir -p "$state"
    rm -f "$state"/worker-*.port "$state"/worker-*.log
    rm -rf "$state/tls"
    $tls && make_certificate
    local scheme=http host=127.0.0.1
    $tls && scheme=https host=localhost
    local target="$scheme://$host:$lb_port"
    trap 'trap - ERR; say "up failed: stopping what was started"; cmd_down >/dev/null 2>&1 || true' ERR

    local admin_url base
    local stats=false pg_options=""
    [ "${LEAVE_WORKER_CLUSTER_PG_STATS:-0}" = 1 ] && stats=true
    $stats && pg_options="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c track_io_timing=on"
    admin_url=$(PG_SERVER_OPTIONS=$pg_options "$root/scripts/pg.sh" start "$state/pg")
    base=${admin_url%/postgres}
    psql "$admin_url" -tAc "SELECT 1 FROM pg_database WHERE datname = 'leave_worker'" | grep -q 1 \
        || psql "$admin_url" -qc "CREATE DATABASE leave_worker"
    $stats && psql "$base/leave_worker" -qc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"

    local overrides="" i=0 port
    for port in $remote_ports; do
        i=$((i + 1))
        overrides+="${overrides:+,}remote-$i.localhost=http://127.0.0.1:$port"
    done
    export LEAVE_WORKER_SERVER_NAME=${LEAVE_WORKER_SERVER_NAME:-localhost:$lb_port}
    export LEAVE_WORKER_SIGNING_KEY="$state/signing.key"
    export LEAVE_WORKER_DATABASE_URL="$base/leave_worker"
    export LEAVE_WORKER_FEDERATION_OVERRIDES="$overrides"
    export LEAVE_WORKER_SQL_DIR="${LEAVE_WORKER_CLUSTER_SQL_DIR:-$root/sql}"
    if [ ! -s "$LEAVE_WORKER_SIGNING_KEY" ]; then
        (umask 077; "$bin" generate-key >"$LEAVE_WORKER_SIGNING_KEY")
    fi
    "$bin" migrate >&2

    {
        echo "# Source this file to run leave-worker commands (loadgen, rooms) against the local cluster."
        for var in LEAVE_WORKER_SERVER_NAME LEAVE_WORKER_SIGNING_KEY LEAVE_WORKER_DATABASE_URL \
            LEAVE_WORKER_FEDERATION_OVERRIDES LEAVE_WORKER_SQL_DIR; do
            printf 'export %s=%q\n' "$var" "${!var}"
        done
        printf 'export LEAVE_WORKER_CLUSTER_TARGET=%q\n' "$target"
        echo "$target" >"$state/target"
        $tls && printf 'export LEAVE_WORKER_CLUSTER_CA=%q\n' "$state/tls/cert.pem"
        printf 'export LEAVE_WORKER_CLUSTER_BIN=%q\n' "$bin"
    } >"$state/env"

    # One after the other, so that each figure is that worker's own time from start to ready.
    local ready=()
    for i in $(seq 1 "$workers"); do
        ready[i]=$(start_ready_worker "$i") || {
            say "worker $i did not become ready; the end of $state/worker-$i.log:"
            tail -n 20 "$state/worker-$i.log" >&2
            false
        }
    done

    local stats_port
    stats_port=$(free_port)
    haproxy_config "$lb_port" "$stats_port" >"$state/haproxy.cfg"
    haproxy -q -c -f "$state/haproxy.cfg"
    haproxy -D -f "$state/haproxy.cfg" -p "$state/haproxy.pid"
    # The public port answers federation routes and /health only (not /ready, not /metrics).
    wait_ready "$target/health" 15 >/dev/null
    trap - ERR

    local rel=${state#"$root"/}
    echo "leave-worker cluster up: $workers workers behind HAProxy ($bin)"
    echo "  load balancer  $target   (round robin; health check GET /ready on each internal port every 1 s)"
    $tls && echo "  certificate    $rel/tls/cert.pem (self-signed, throwaway: curl --cacert $rel/tls/cert.pem $target/health)"
    echo "  HAProxy stats  http://127.0.0.1:$stats_port/"
    for i in $(seq 1 "$workers"); do
        echo "  worker $i       http://127.0.0.1:$(cat "$state/worker-$i.port")   internal http://127.0.0.1:$(cat "$state/worker-$i.internal-port")   pid $(cat "$state/worker-$i.pid"), ready in ${ready[i]} s, log $rel/worker-$i.log"
    done
    echo "  postgres       $LEAVE_WORKER_DATABASE_URL"
    echo "  server name    $LEAVE_WORKER_SERVER_NAME   (signing key $rel/signing.key)"
    echo "  remote servers $LEAVE_WORKER_FEDERATION_OVERRIDES"
    if $tls; then
        echo "  load test      loadgen speaks plain HTTP: run it against a cluster started without --tls"
    else
        echo "  load test      . $rel/env && \"\$LEAVE_WORKER_CLUSTER_BIN\" loadgen --target \"\$LEAVE_WORKER_CLUSTER_TARGET\""
    fi
    echo "  stop           deploy/local/cluster.sh down"
}

cmd_status() {
    local pidfile i port code
    if alive "$state/haproxy.pid" haproxy; then
        echo "haproxy   pid $(cat "$state/haproxy.pid")   $(cat "$state/target")/health → $(http_status "$(cat "$state/target")/health")"
    else
        echo "haproxy   not running"
    fi
    for pidfile in "$state"/worker-*.pid; do
        [ -e "$pidfile" ] || continue
        i=$(basename "$pidfile" .pid); i=${i#worker-}
        port=$(cat "$state/worker-$i.internal-port" 2>/dev/null || echo "?")
        if alive "$pidfile" "$worker_mark"; then
            code=$(http_status "http://127.0.0.1:$port/ready")
            echo "worker $i  pid $(cat "$pidfile")   http://127.0.0.1:$port/ready → $code"
        else
            echo "worker $i  not running (pid file left: $pidfile)"
        fi
    done
    if [ -f "$state/pg/url" ] && pg_isready -q -d "$(cat "$state/pg/url")" 2>/dev/null; then
        echo "postgres  $(cat "$state/pg/url")   accepting connections"
    else
        echo "postgres  not running"
    fi
}

cmd_down() {
    local purge=false pidfile
    [ "${1:-}" = "--purge" ] && purge=true
    stop_pid "$state/haproxy.pid" haproxy
    for pidfile in "$state"/worker-*.pid; do
        [ -e "$pidfile" ] && stop_pid "$pidfile" "$worker_mark"
    done
    if [ -f "$state/pg/data/PG_VERSION" ]; then
        "$root/scripts/pg.sh" stop "$state/pg"
        say "stopped postgres"
    fi
    if $purge; then
        # pg.sh remove also deletes a data directory kept outside $state (scripts/pg.sh).
        [ -d "$state/pg" ] && "$root/scripts/pg.sh" remove "$state/pg"
        rm -rf "$state"
        say "removed $state"
    fi
}

case "${1:-}" in
    up) shift; cmd_up "$@" ;;
    status) cmd_status ;;
    down) shift; cmd_down "$@" ;;
    *) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
