#!/bin/bash
# ring.bench.sh -- bench_ring under the supervisor: training tokens/s with the rows from the
# supervisor's shared memory against rows in memory (one run). The supervisor's own verdict on
# the run (no evaluation: a crash) is not the point and is not shown.
set -u
cd "$(dirname "$0")/.."
[ -x build/bench/bench_ring ] || { echo "build/bench/bench_ring missing (make bench)"; exit 1; }
log=$(mktemp)
AUTORESEARCH_BUDGET_MODE=tokens AUTORESEARCH_BUDGET=1e12 ./autoresearch train --trainer build/bench/bench_ring >"$log" 2>&1
grep -E '^(model|training tokens|dataloader_next)' "$log" || tail -5 "$log"
rm -f "$log"
