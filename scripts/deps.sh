#!/usr/bin/env bash
# Installs the Debian packages leave-worker needs to build, test and run locally (libjemalloc2:
# the allocator the workers run with, as in the image — cluster.sh falls back to glibc without it),
# when they are missing. Safe to run again.
#   scripts/deps.sh           build and run (scripts/run.sh)
#   scripts/deps.sh --tests   also what only the suite uses: promtool (Debian package prometheus;
#                             no daemon is started) and python3-yaml, so the alert rules' unit tests
#                             run instead of being skipped (scripts/test.sh)
set -euo pipefail
wanted=(libsodium-dev libpq-dev libssl-dev libjemalloc2 postgresql pgbouncer haproxy python3)
testing=()
[ "${1:-}" = --tests ] && testing=(prometheus python3-yaml)

missing() {
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || echo "$pkg"
    done
}
mapfile -t need < <(missing "${wanted[@]}")
mapfile -t need_for_tests < <(missing "${testing[@]}")
if [ $((${#need[@]} + ${#need_for_tests[@]})) -gt 0 ]; then
    echo "deps: installing ${need[*]} ${need_for_tests[*]}" >&2
    sudo_cmd=(); [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    [ ${#need[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
    [ ${#need_for_tests[@]} -eq 0 ] \
        || DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need_for_tests[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "deps: swift is not on PATH" >&2; exit 1; }
