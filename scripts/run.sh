#!/usr/bin/env bash
# Sets everything up and runs the worker locally: installs what is missing, builds, starts a
# PostgreSQL cluster for .local/pg (kept between runs; its data under /var/tmp/leave-worker-pg/
# when the checkout is out of the postgres user's reach: scripts/pg.sh), generates a signing key,
# applies the migrations, plays a remote homeserver (remote.demo) on loopback, imports a demo room
# whose members live there, prints how to try the handshake by hand, and serves on
# LEAVE_WORKER_LISTEN (default 127.0.0.1:8448) until Ctrl-C. Works from any checkout location, as
# root or not; a failed set-up step stops it with one `run.sh:` line naming the step.
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "run.sh: $*" >&2; exit 1; }

scripts/deps.sh || die "installing the dependencies failed (scripts/deps.sh, above)"
swift build --product leave-worker || die "the build failed (above)"
bin_dir=$(swift build --show-bin-path) || die "swift build --show-bin-path failed"
bin="$bin_dir/leave-worker"

mkdir -p .local/demo
admin_url=$(scripts/pg.sh start .local/pg) || die "PostgreSQL did not start (scripts/pg.sh, above)"
exists=$(psql "$admin_url" -tAc "SELECT 1 FROM pg_database WHERE datname = 'leave_worker'") \
    || die "cannot query PostgreSQL at $admin_url"
[ "$exists" = 1 ] || psql "$admin_url" -qc "CREATE DATABASE leave_worker" || die "cannot create the database leave_worker"

export LEAVE_WORKER_DATABASE_URL="${admin_url%/postgres}/leave_worker"
export LEAVE_WORKER_SERVER_NAME=${LEAVE_WORKER_SERVER_NAME:-resident.localhost}
export LEAVE_WORKER_SIGNING_KEY=${LEAVE_WORKER_SIGNING_KEY:-$PWD/.local/signing.key}
export LEAVE_WORKER_LISTEN=${LEAVE_WORKER_LISTEN:-127.0.0.1:8448}
export LEAVE_WORKER_SQL_DIR="$PWD/sql"
if [ ! -s "$LEAVE_WORKER_SIGNING_KEY" ]; then
    (umask 077; "$bin" generate-key > "$LEAVE_WORKER_SIGNING_KEY") || die "cannot write the signing key $LEAVE_WORKER_SIGNING_KEY"
    echo "generated signing key $LEAVE_WORKER_SIGNING_KEY"
fi
"$bin" migrate || die "leave-worker migrate failed (above)"

# The remote homeserver the demo room's members live on: it only has to publish its keys.
remote_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])') \
    || die "no free loopback port"
"$bin" demo serve-remote --port "$remote_port" > .local/demo/remote.log 2>&1 &
remote_pid=$!
trap 'kill $remote_pid 2>/dev/null || true' EXIT
remote_up=false
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$remote_port/_matrix/key/v2/server" >/dev/null && { remote_up=true; break; }
    sleep 0.1
done
$remote_up || die "the demo remote server did not start (log: .local/demo/remote.log)"
export LEAVE_WORKER_FEDERATION_OVERRIDES="remote.demo=http://127.0.0.1:$remote_port${LEAVE_WORKER_FEDERATION_OVERRIDES:+,$LEAVE_WORKER_FEDERATION_OVERRIDES}"

if [ ! -s .local/demo/room.json ]; then
    { "$bin" demo room > .local/demo/room.json.new && mv .local/demo/room.json.new .local/demo/room.json; } \
        || die "cannot build the demo room"
fi
room_id=$("$bin" rooms import .local/demo/room.json | python3 -c 'import json,sys; print(json.load(sys.stdin)["room_id"])') \
    || die "cannot import the demo room (.local/demo/room.json)"

cat <<MSG

leave-worker is starting on http://$LEAVE_WORKER_LISTEN as $LEAVE_WORKER_SERVER_NAME
database: $LEAVE_WORKER_DATABASE_URL   (stop it later: scripts/pg.sh stop .local/pg; data: $(readlink -f .local/pg/data))
demo room $room_id, members @user1..@user5:remote.demo (joined), @invited:remote.demo (invited)

Try the handshake from another terminal (the remote server signs make_leave and send_leave,
and prints a copy-pasteable curl for the signed make_leave):
  cd $PWD && env LEAVE_WORKER_SERVER_NAME=$LEAVE_WORKER_SERVER_NAME $bin demo leave --target http://$LEAVE_WORKER_LISTEN '$room_id' @user1:remote.demo
  env LEAVE_WORKER_DATABASE_URL=$LEAVE_WORKER_DATABASE_URL $bin rooms members '$room_id'

MSG
"$bin" serve
