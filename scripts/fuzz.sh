#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ (release, -sanitize=fuzzer,address, into .build-fuzz) and
# runs one of them on its corpus, e.g.
#   scripts/fuzz.sh pdu -runs=10000000
#   scripts/fuzz.sh json -max_total_time=600
# Targets: json canonical xmatrix identifiers pdu. New inputs go to .build-fuzz/corpus/<target>
# (Fuzz/corpus/<target> holds the committed seeds, read only); a crash leaves crash-* in
# .build-fuzz/crashes/<target>/ (not artifacts/, which SwiftPM empties). Seeds: scripts/fuzz-seeds.py.
# Linked with lld: gold stops with an internal error on these executables.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh TARGET [libFuzzer flags...]}
shift
swift build --package-path Fuzz -c release --scratch-path .build-fuzz --product "fuzz-$target" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld 2>&1 | { grep -v "warning: Cannot export" || true; } >&2
work=.build-fuzz/corpus/$target
artifacts=.build-fuzz/crashes/$target
mkdir -p "$work" "$artifacts"
exec ".build-fuzz/release/fuzz-$target" -artifact_prefix="$artifacts/" -timeout=10 -rss_limit_mb=2048 \
    "$@" "$work" "Fuzz/corpus/$target"
