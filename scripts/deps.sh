#!/usr/bin/env bash
# Installs the Debian packages leave-worker needs to build, test and run locally,
# when they are missing. Safe to run again.
set -euo pipefail
need=()
for pkg in libsodium-dev libpq-dev libssl-dev postgresql pgbouncer haproxy python3; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "deps: installing ${need[*]}" >&2
    sudo_cmd=(); [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "deps: swift is not on PATH" >&2; exit 1; }
