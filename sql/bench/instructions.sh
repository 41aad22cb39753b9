#!/usr/bin/env bash
# Instructions per store_leaves call: a count that does not move with the machine's load (unlike
# tx/s and CPU time on a shared box), for comparing two versions of the function (run it in each
# checkout). A throwaway cluster under DIR gets this checkout's migrations and fixture.sql
# (50 rooms × 40,000 members), is stopped, and a single-user backend runs the calls under
# valgrind's callgrind, counting only inside store_leaves (the function call, toggled on
# fmgr_security_definer: store_leaves is the only function with SET options). Each call stores
# BATCH leaves of joined members (a fresh member each, 1.1 kB PDU) in its own transaction with a
# generic plan, the PDUs beside the JSON (sql/0020) and the batch vouched free of repeats
# (sql/0024), as the workers do (DISTINCT=false: the rounds computed, as before 0024). Printed:
# (Ir of 10 + CALLS calls − Ir of 10 calls) / CALLS, so the first calls' planning is left out.
#
#   sql/bench/instructions.sh DIR [CALLS] [BATCH]      e.g. sql/bench/instructions.sh /tmp/lw-ir 100 1
#
# Needs valgrind. DIR is removed first and left behind (scripts/pg.sh remove DIR). Repeated runs
# agree within about 1 %.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: sql/bench/instructions.sh DIR [CALLS] [BATCH]}
calls=${2:-100}
batch=${3:-1}
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind not found" >&2; exit 1; }
"$here/../../scripts/pg.sh" remove "$dir" >/dev/null 2>&1 || true
admin=$(PG_FSYNC=off "$here/../../scripts/pg.sh" start "$dir")
url="${admin%/postgres}/bench"
psql -q "$admin" -c "CREATE DATABASE bench"
for migration in "$here"/../[0-9]*_*.sql; do
    psql -q -v ON_ERROR_STOP=1 -1 -f "$migration" "$url"
done
psql -q -v ON_ERROR_STOP=1 -v rooms=50 -v members=40000 -f "$here/fixture.sql" "$url"
"$here/../../scripts/pg.sh" stop "$dir"
data=$(readlink -f "$dir/data")
bin=$(cat "$dir/bin")
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

# The single-user backend's input (-j: a statement ends with ";" and an empty line); member n is
# in room n % 50 on server remote(n % 7), as fixture.sql made it.
script() {
    local first=$1 count=$2 n c i leaves pdus
    echo "SET plan_cache_mode = force_generic_plan;"; echo
    for ((c = 0; c < count; c++)); do
        leaves="" pdus=""
        for ((i = 0; i < batch; i++)); do
            n=$((first + c * batch + i))
            leaves+="${leaves:+, }json_build_object('room_id', '!r$((n % 50)):bench', 'event_id', '\$leave$n', 'type', 'm.room.member', 'state_key', '@u$n:remote$((n % 7))', 'sender', '@u$n:remote$((n % 7))', 'depth', 3, 'origin_server_ts', 1700000000001, 'membership', 'leave', 'prev_events', ARRAY['\$join$n'], 'auth_events', ARRAY['\$join$n'], 'expected_membership', 'join')"
            pdus+="${pdus:+, }repeat('y', 1100)"
        done
        echo "SELECT outcome FROM store_leaves(json_build_array($leaves), ARRAY[$pdus], ${DISTINCT:-true});"; echo
    done
}

# Ir inside store_leaves for COUNT calls starting at member FIRST; fails unless every leave was stored.
measure() {
    local first=$1 count=$2 run="$work/run-$1"
    script "$first" "$count" > "$run.sql"
    chmod 644 "$run.sql"
    (cd / && runuser_if_root valgrind --tool=callgrind --toggle-collect=fmgr_security_definer \
        --callgrind-out-file="$run.out" "$bin/postgres" --single -j -c fsync=off -D "$data" bench) \
        < "$run.sql" > "$run.log" 2>&1
    [ "$(grep -c 'outcome = "stored"' "$run.log")" = $((count * batch)) ] \
        || { echo "instructions.sh: not every leave was stored (see $run.log)" >&2; cp "$run.log" /tmp/; exit 1; }
    sed -n 's/^totals: //p' "$run.out"
}
runuser_if_root() { if [ "$(id -u)" = 0 ]; then chown postgres "$work"; runuser -u postgres -- "$@"; else "$@"; fi; }

(( batch * (calls + 10) <= 20000 )) || { echo "instructions.sh: at most 20,000 leaves (CALLS + 10) × BATCH" >&2; exit 2; }
short=$(measure 1 10)
long=$(measure 20001 $((calls + 10)))
echo "batch=$batch calls=$calls instructions_per_call=$(( (long - short) / calls ))"
