#!/usr/bin/env bash
# Postgres' own ceiling for the leave transaction: pgbench running exactly what RoomStore.storeLeave
# sends (the leaveContext read + store_leaves; the NOTIFY is left out), on a fresh database that is dropped afterwards.
#
#   sql/bench/run.sh ADMIN_URL [SECONDS] [CLIENTS...]     e.g. sql/bench/run.sh "$(scripts/pg.sh url /tmp/pg)" 20 1 4 8 16
#
# ADMIN_URL is a postgresql:// URL whose database is `postgres`; prints one "clients=N tps=…" line each.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
admin=${1:?usage: sql/bench/run.sh ADMIN_URL [SECONDS] [CLIENTS...]}
seconds=${2:-20}
shift $(( $# >= 2 ? 2 : 1 ))
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(1 8)
db="leave_bench_$$"
url="${admin%/postgres}/$db"
psql -q "$admin" -c "CREATE DATABASE $db"
trap 'psql -q "$admin" -c "DROP DATABASE IF EXISTS $db" || true' EXIT
for migration in "$here"/../[0-9]*_*.sql; do
    psql -q -v ON_ERROR_STOP=1 -1 -f "$migration" "$url"
done
psql -q -v ON_ERROR_STOP=1 -v rooms=50 -v members=300000 -f "$here/fixture.sql" "$url"
psql -q -c CHECKPOINT "$url"
for c in "${clients[@]}"; do
    tps=$(pgbench -n -M prepared -c "$c" -j "$(( c < 2 ? 1 : 2 ))" -T "$seconds" -f "$here/store_leave.pgbench" "$url" 2>&1 \
          | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    echo "clients=$c tps=${tps:-failed}"
done
