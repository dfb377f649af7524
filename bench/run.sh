#!/bin/bash
# Runs every benchmark: build/bench/bench_* programs, then bench/*.bench.sh scripts.
# Figures go to stdout; nothing here is pass/fail.
set -u
cd "$(dirname "$0")/.."
for b in build/bench/bench_* bench/*.bench.sh; do
    [ -x "$b" ] || continue
    echo "=== $(basename "$b") ==="
    "$b" || echo "(benchmark $b exited with $?)"
    echo
done
