#!/usr/bin/env bash
# Throwaway PostgreSQL clusters for development and tests.
#
#   scripts/pg.sh start DIR   create (if needed) and start a cluster for DIR on a free
#                             loopback port; prints the admin URL (postgresql://postgres@127.0.0.1:PORT/postgres)
#   scripts/pg.sh stop DIR    stop it (fast shutdown)
#   scripts/pg.sh restart DIR [immediate]
#                             restart it on the same port; `immediate` stops it as a crash does
#                             (no checkpoint: WAL not yet written is lost, recovery on start)
#   scripts/pg.sh url DIR     print the admin URL of a running cluster
#   scripts/pg.sh remove DIR  stop it and delete DIR and its data directory
#
# initdb and postgres refuse to run as root, so when run as root they run as the `postgres` OS
# user. That user must reach the data directory: when DIR is not reachable by it (a checkout
# under a mode-700 directory such as /root or a fresh `mktemp -d`), the data directory and the
# server log go to /var/tmp/leave-worker-pg/HASH (HASH: from DIR's absolute path, owned by
# postgres, mode 700), DIR/data is a symbolic link to it, and `start` says so on stderr.
# Only TCP on 127.0.0.1 is used (no Unix socket). Any failure ends with one `pg.sh:` line.
# Env: PG_FSYNC=off for throwaway test data; PG_SERVER_OPTIONS, more `-c name=value` server
# settings (e.g. shared_preload_libraries) — both given to `start` and kept for `restart`.
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }

pg_bin() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && { echo "$dir"; return; }
    done
    command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return; }
    die "PostgreSQL server binaries not found (apt-get install postgresql)"
}

# Every path given is absolute: the postgres user starts in / (it may not reach the caller's cwd).
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# The directory that holds data/ and postgres.log, owned by the server's OS user: DIR itself, or
# (root only, DIR out of the postgres user's reach) a per-DIR directory under /var/tmp.
server_home() {
    if [ -L "$dir/data" ]; then
        dirname "$(readlink "$dir/data")"
    elif [ "$(id -u)" != 0 ] || [ -e "$dir/data" ]; then
        echo "$dir"
    else
        chown postgres "$dir" || die "cannot chown $dir to the postgres user"
        if runuser -u postgres -- test -w "$dir" -a -x "$dir"; then
            echo "$dir"
        else
            echo "/var/tmp/leave-worker-pg/$(printf '%s' "$dir" | sha256sum | cut -c1-16)"
        fi
    fi
}

# Creates the server's home when it lies outside DIR and links DIR/data to it.
prepare_outside_home() {
    [ "$home" = "$dir" ] || [ -L "$dir/data" ] || {
        { mkdir -p /var/tmp/leave-worker-pg && chmod 755 /var/tmp/leave-worker-pg \
            && mkdir -p "$home" && chown postgres "$home" && chmod 700 "$home" \
            && ln -s "$home/data" "$dir/data"; } || die "cannot create $home for the postgres user"
        echo "pg.sh: $dir is not reachable by the postgres OS user; its data directory is $home/data (log: $home/postgres.log)" >&2
    }
}

server_options() {
    echo "-c listen_addresses=127.0.0.1 -c port=$1 -c unix_socket_directories='' -c max_connections=200 -c shared_buffers=128MB -c fsync=$2 ${3:-}"
}

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: scripts/pg.sh start|stop|restart|url|remove DIR" >&2; exit 2; }
mkdir -p "$dir" || die "cannot create $dir"
dir=$(cd "$dir" && pwd)
bin=$(pg_bin)
home=$(server_home)

case "$cmd" in
start)
    prepare_outside_home
    if [ ! -f "$home/data/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$home/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
            || { tail -n 5 "$dir/initdb.log" >&2; die "initdb failed for $home/data (log: $dir/initdb.log)"; }
    fi
    if as_owner "$bin/pg_ctl" -D "$home/data" status >/dev/null 2>&1; then
        cat "$dir/url"; exit 0
    fi
    port=$(free_port) || die "no free loopback port"
    echo "${PG_FSYNC:-on}" > "$dir/fsync"
    echo "${PG_SERVER_OPTIONS:-}" > "$dir/server-options"
    as_owner "$bin/pg_ctl" -D "$home/data" -l "$home/postgres.log" -w -t 60 start \
        -o "$(server_options "$port" "${PG_FSYNC:-on}" "${PG_SERVER_OPTIONS:-}")" >/dev/null \
        || { tail -n 5 "$home/postgres.log" >&2 || true; die "PostgreSQL did not start (log: $home/postgres.log)"; }
    echo "postgresql://postgres@127.0.0.1:$port/postgres" > "$dir/url"
    echo "$bin" > "$dir/bin"
    cat "$dir/url"
    ;;
stop)
    if [ -f "$home/data/PG_VERSION" ]; then
        as_owner "$bin/pg_ctl" -D "$home/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
restart)
    [ -f "$dir/url" ] || die "no cluster was started for $dir"
    port=$(sed -E 's#.*:([0-9]+)/.*#\1#' "$dir/url")
    mode=fast
    case "${3:-}" in
        "") ;;
        immediate) mode=immediate ;;
        *) die "restart takes an optional 'immediate', not '$3'" ;;
    esac
    as_owner "$bin/pg_ctl" -D "$home/data" -l "$home/postgres.log" -m "$mode" -w -t 60 restart \
        -o "$(server_options "$port" "$(cat "$dir/fsync" 2>/dev/null || echo on)" "$(cat "$dir/server-options" 2>/dev/null)")" >/dev/null \
        || die "PostgreSQL did not restart (log: $home/postgres.log)"
    ;;
url)
    [ -f "$dir/url" ] || die "no cluster was started for $dir"
    cat "$dir/url"
    ;;
remove)
    if [ -f "$home/data/PG_VERSION" ]; then
        as_owner "$bin/pg_ctl" -D "$home/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    [ "$home" = "$dir" ] || rm -rf "$home"
    rm -rf "$dir"
    ;;
*)
    echo "usage: scripts/pg.sh start|stop|restart|url|remove DIR" >&2; exit 2 ;;
esac
