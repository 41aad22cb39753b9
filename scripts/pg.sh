#!/usr/bin/env bash
# Throwaway PostgreSQL clusters under the repo, for development and tests.
#
#   scripts/pg.sh start DIR   create (if needed) and start a cluster in DIR on a free
#                             loopback port; prints the admin URL (postgresql://postgres@127.0.0.1:PORT/postgres)
#   scripts/pg.sh stop DIR    stop it (fast shutdown)
#   scripts/pg.sh restart DIR restart it on the same port
#   scripts/pg.sh url DIR     print the admin URL of a running cluster
#
# initdb and postgres refuse to run as root, so when run as root they run as the
# `postgres` OS user on a directory it owns. Only TCP on 127.0.0.1 is used (no Unix socket).
set -euo pipefail

pg_bin() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && { echo "$dir"; return; }
    done
    command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return; }
    echo "pg.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
    exit 1
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: scripts/pg.sh start|stop|restart|url DIR" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
bin=$(pg_bin)

case "$cmd" in
start)
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        cat "$dir/url"; exit 0
    fi
    port=$(free_port)
    echo "${PG_FSYNC:-on}" > "$dir/fsync"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='' -c max_connections=200 -c shared_buffers=128MB -c fsync=${PG_FSYNC:-on}" >/dev/null \
        || { cat "$dir/postgres.log" >&2; exit 1; }
    echo "postgresql://postgres@127.0.0.1:$port/postgres" > "$dir/url"
    echo "$bin" > "$dir/bin"
    cat "$dir/url"
    ;;
stop)
    if [ -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
restart)
    port=$(sed -E 's#.*:([0-9]+)/.*#\1#' "$dir/url")
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -m fast -w -t 60 restart \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='' -c max_connections=200 -c shared_buffers=128MB -c fsync=$(cat "$dir/fsync" 2>/dev/null || echo on)" >/dev/null
    ;;
url)
    cat "$dir/url"
    ;;
*)
    echo "usage: scripts/pg.sh start|stop|restart|url DIR" >&2; exit 2 ;;
esac
